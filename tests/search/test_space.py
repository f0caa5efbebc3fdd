"""The search space: decisions <-> genotypes, validity, canonical hashing, similarity, mutation."""
from __future__ import annotations

import numpy as np
import pytest

from nasfpn_cli.errors import SearchError
from nasfpn_cli.genotype import load_genotype, parse_genotype
from nasfpn_cli.search.space import SearchSpace

# the bundled nasfpn as TF-style decisions: (first, second, level index, op index) per cell
NASFPN = (3, 1, 1, 1, 5, 1, 1, 0, 6, 0, 0, 0, 7, 6, 1, 0, 7, 8, 2, 1, 6, 9, 4, 1, 9, 10, 3, 1)


@pytest.fixture
def space() -> SearchSpace:
    return SearchSpace()


def test_encode_bundled_nasfpn_and_back(space):
    genotype = load_genotype("nasfpn")
    assert space.encode(genotype) == NASFPN
    rebuilt = space.to_genotype(NASFPN, name="nasfpn")
    assert rebuilt == genotype
    assert space.num_decisions == 28


def test_encode_rejects_genotypes_outside_the_space(space):
    with pytest.raises(SearchError, match="residual"):
        space.encode(load_genotype("fpn"))
    with pytest.raises(SearchError, match="7 cells, the space has 8"):
        SearchSpace(num_cells=8).encode(load_genotype("nasfpn"))
    with pytest.raises(SearchError, match="'n1' has 3 inputs"):
        SearchSpace(num_cells=6).encode(parse_genotype("\n".join(
            ["n1 = sum(P3, P4, P5) @ P4"] + [f"o{level} = sum(P3, P4) @ P{level} -> out"
                                             for level in range(3, 8)])))


def test_valid_choices_follow_the_rules(space):
    assert space.valid_choices(0, []) == [0, 1, 2, 3, 4]  # cell 1 sees the five inputs
    assert space.valid_choices(1, [3]) == [0, 1, 2, 4]  # second input: not the first again
    assert space.valid_choices(2, [3, 1]) == [0, 1, 2, 3, 4]  # intermediate: every level
    assert SearchSpace(paper_constraints=True).valid_choices(2, [3, 1]) == [1, 2, 3, 4]
    assert space.valid_choices(4, list(NASFPN[:4])) == [0, 1, 2, 3, 4, 5]  # n1 is a candidate
    assert space.valid_choices(5, list(NASFPN[:5])) == [0, 1, 2, 3, 4]  # n2 = sum(n1, ...)
    # output cells: levels already produced by earlier output cells are taken
    assert space.valid_choices(4 * 4 + 2, list(NASFPN[:18])) == [2, 3, 4]
    assert space.valid_choices(4 * 6 + 2, list(NASFPN[:26])) == [3]


def test_random_architectures_are_valid_genotypes(space):
    rng = np.random.default_rng(0)
    for _ in range(50):
        decisions = space.sample(rng)
        genotype = space.to_genotype(decisions)
        assert sorted(cell.level for cell in genotype.cells if cell.is_output) == [3, 4, 5, 6, 7]
        assert space.encode(genotype) == decisions


def test_check_names_the_bad_decision(space):
    bad = list(NASFPN)
    bad[5] = 1  # n2's second input equal to its first
    bad[4] = 1
    with pytest.raises(SearchError, match=r"decision 5 \(cell n2, second\)"):
        space.check(bad)
    with pytest.raises(SearchError, match="expected 28 decisions"):
        space.check(NASFPN[:-1])


def test_hash_ignores_the_order_of_symmetric_inputs(space):
    swapped = list(NASFPN)
    swapped[4], swapped[5] = swapped[5], swapped[4]  # n2 = sum(P4, n1) instead of sum(n1, P4)
    assert space.hash(swapped) == space.hash(NASFPN)
    swapped[0], swapped[1] = swapped[1], swapped[0]  # n1 = gp(P4, P6): levels differ, symmetric
    assert space.hash(swapped) == space.hash(NASFPN)
    other = list(NASFPN)
    other[3] = 0  # n1 becomes a sum
    assert space.hash(other) != space.hash(NASFPN)
    assert len(space.hash(NASFPN)) == 16


def test_same_level_gp_keeps_its_order(space):
    decisions = list(NASFPN)
    decisions[4:8] = [1, 5, 1, 1]  # n2 = gp(P4, n1), both at P4: which one gates matters
    swapped = list(decisions)
    swapped[4], swapped[5] = 5, 1
    assert space.hash(decisions) != space.hash(swapped)


def test_similarity_counts_matching_decisions(space):
    assert space.similarity(NASFPN, NASFPN) == 1.0
    swapped = list(NASFPN)
    swapped[0], swapped[1] = swapped[1], swapped[0]
    assert space.similarity(swapped, NASFPN) == 1.0  # the inputs are compared as a pair
    changed = list(NASFPN)
    changed[3] = 0  # one op
    changed[0] = 2  # one input
    assert space.similarity(changed, NASFPN) == pytest.approx(26 / 28)


def test_mutation_changes_one_decision_and_stays_valid(space):
    rng = np.random.default_rng(1)
    for _ in range(200):
        child = space.mutate(NASFPN, rng)
        differences = [i for i, (a, b) in enumerate(zip(child, NASFPN)) if a != b]
        assert space.hash(child) != space.hash(NASFPN)
        if len(differences) == 2:  # two output cells swapped their levels
            assert all(i % 4 == 2 and i >= 8 for i in differences)
        else:
            assert len(differences) == 1


def test_space_settings_are_checked():
    with pytest.raises(SearchError, match="at least 5"):
        SearchSpace(num_cells=4)
    assert SearchSpace.from_dict(SearchSpace(9, paper_constraints=True).to_dict()) == \
        SearchSpace(9, paper_constraints=True)
