"""The anchored search space: anchors are points, reasons for what is not, canonical hashing,
the variable-length decisions, the size figure, and points compile to a working neck."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nasfpn_cli.errors import SearchError
from nasfpn_cli.genotype import bundled_names, load_genotype, parse_genotype
from nasfpn_cli.search.anchored import ANCHORS, AnchoredSpace, Gene

SPACE = AnchoredSpace()
OUTPUTS = "\n".join(f"o{level} = sum(P{level}, t) @ P{level} -> out" for level in range(3, 8))


def random_point(seed: int, space: AnchoredSpace = SPACE) -> tuple[int, ...]:
    return space.sample(np.random.default_rng(seed))


# -- anchors and the reasons for what is not a point ---------------------------------------------

@pytest.mark.parametrize("name", bundled_names())
def test_every_bundled_genotype_is_a_point(name):
    genotype = load_genotype(name)
    inside, reason = SPACE.contains(genotype)
    assert inside, reason
    assert reason == ""
    decisions = SPACE.encode(genotype)
    assert SPACE.check(decisions) == decisions
    assert SPACE.hash(decisions) == SPACE.genotype_hash(genotype)
    assert SPACE.to_genotype(decisions).cells == SPACE.to_genotype(decisions, name=name).cells


def test_the_anchors_are_the_four_bundled_designs():
    assert ANCHORS == ("fpn", "panet", "bifpn", "nasfpn")
    hashes = {SPACE.hash(SPACE.encode(load_genotype(name))) for name in ANCHORS}
    assert len(hashes) == 4
    assert [SPACE.cell_count(d) for d in SPACE.anchors()] == [5, 8, 8, 7]


def test_stack_and_channels_are_no_part_of_the_point():
    assert (SPACE.genotype_hash(load_genotype("nasfpn_7x256"))
            == SPACE.genotype_hash(load_genotype("nasfpn")))


@pytest.mark.parametrize("name", ["fpn", "panet", "bifpn"])
def test_residual_none_that_changes_nothing_is_the_same_point(name):
    text = load_genotype(name).source
    assert "residual none" in text
    unconnected = parse_genotype(text.replace("residual none\n", ""))
    none = load_genotype(name)
    assert SPACE.encode(unconnected) == SPACE.encode(none)
    assert SPACE.genotype_hash(unconnected) == SPACE.genotype_hash(none)


def test_residual_none_that_drops_an_edge_is_not_a_point():
    # no cell reads P4: the space's rule would add it to the P4 output
    text = ("residual none\n"
            "o3 = sum(P3, P5) @ P3 -> out\no4 = sum(P3, P5) @ P4 -> out\n"
            "o5 = sum(P5, P6) @ P5 -> out\no6 = sum(P6, P7) @ P6 -> out\n"
            "o7 = sum(P7, P6) @ P7 -> out\n")
    inside, reason = SPACE.contains(parse_genotype(text))
    assert not inside
    assert reason == ("the space's residual rule adds 'P4' to 'o4', which the genotype "
                      "(residual none) does not; no order of its cells avoids it")
    with pytest.raises(SearchError, match="residual"):
        SPACE.encode(parse_genotype(text))
    assert SPACE.contains(parse_genotype(text.replace("residual none\n", ""))) == (True, "")


def test_reasons_name_what_does_not_fit():
    four = parse_genotype("t = sum(P3, P4, P5, P6) @ P5\n" + OUTPUTS)
    assert SPACE.contains(four) == (False, "cell 't' has 4 inputs; the space allows at most 3")
    assert not AnchoredSpace(max_inputs=2).contains(load_genotype("bifpn"))[0]
    assert "at most 2" in AnchoredSpace(max_inputs=2).contains(load_genotype("bifpn"))[1]
    inside, reason = AnchoredSpace(cells=(5, 7)).contains(load_genotype("panet"))
    assert not inside and reason == "it has 8 cells; the space allows 5 to 7"
    inside, reason = AnchoredSpace(cells=8).contains(load_genotype("fpn"))
    assert not inside and reason == "it has 5 cells; the space allows 8"
    inside, reason = AnchoredSpace(ops=("sum", "gp")).contains(load_genotype("bifpn"))
    assert not inside and "op 'wsum'" in reason
    fewer = parse_genotype("inputs P3 P4 P5\noutputs P3 P4 P5\n"
                           "a = sum(P3, P4) @ P3 -> out\nb = sum(P4, P5) @ P4 -> out\n"
                           "c = sum(P5, a) @ P5 -> out\n")
    assert "P3 P4 P5 P6 P7" in SPACE.contains(fewer)[1]
    late = parse_genotype("o3 = sum(P3, P4) @ P3 -> out\nt = sum(o3, P5) @ P5\n"
                          + "\n".join(f"o{level} = sum(P{level}, t) @ P{level} -> out"
                                      for level in range(4, 8)))
    inside, reason = SPACE.contains(late)
    assert not inside and "'t' uses the output 'o3'" in reason


REST = "o5 = sum(P5, P6) @ P5 -> out\no6 = sum(P6, P7) @ P6 -> out\no7 = sum(P7, P6) @ P7 -> out\n"


def test_another_order_of_the_outputs_is_found_when_the_rule_needs_it():
    # written o4 first, the rule would add the unread P4 to o4; with o3 (which reads P4) first
    # it adds nothing, as 'residual none' says
    genotype = parse_genotype("residual none\no4 = sum(P5, P6) @ P4 -> out\n"
                              "o3 = sum(P3, P4) @ P3 -> out\n" + REST)
    decisions = SPACE.encode(genotype)
    assert SPACE.to_genotype(decisions).cells[0].level == 3
    assert SPACE.hash(decisions) == SPACE.genotype_hash(genotype)


def test_a_residual_the_rule_cannot_give_is_named():
    # x reads P4 after o4 was built, so o4 had P4 as a residual; in the space x comes first
    genotype = parse_genotype("o4 = sum(P3, P5) @ P4 -> out\nx = sum(P4, P6) @ P5\n"
                              "o3 = sum(P3, x) @ P3 -> out\n" + REST)
    assert SPACE.contains(genotype) == (
        False, "the genotype adds 'P4' to 'o4' as a residual, which the space's residual rule "
               "does not in any order of its cells")


# -- canonical hashing ---------------------------------------------------------------------------

def test_hash_ignores_names_symmetric_order_and_independent_order():
    a = parse_genotype("x = sum(P3, P4) @ P4\ny = gp(P6, P7) @ P6\n"
                       "p3 = sum(P3, x) @ P3 -> out\np4 = sum(x, y) @ P4 -> out\n"
                       "p5 = wsum(P5, p4) @ P5 -> out\np6 = sum(y, p5) @ P6 -> out\n"
                       "p7 = gp(P7, p6) @ P7 -> out\n")
    b = parse_genotype("q = gp(P7, P6) @ P6\nr = sum(P4, P3) @ P4\n"
                       "s3 = sum(r, P3) @ P3 -> out\ns4 = sum(q, r) @ P4 -> out\n"
                       "s5 = wsum(s4, P5) @ P5 -> out\ns6 = sum(s5, q) @ P6 -> out\n"
                       "s7 = gp(s6, P7) @ P7 -> out\n")
    assert SPACE.genotype_hash(a) == SPACE.genotype_hash(b)
    assert SPACE.hash(SPACE.encode(a)) == SPACE.hash(SPACE.encode(b))
    assert SPACE.encode(a) != SPACE.encode(b)
    c = parse_genotype(a.source.replace("p5 = wsum", "p5 = sum"))
    assert SPACE.genotype_hash(c) != SPACE.genotype_hash(a)


def test_gp_order_matters_only_for_inputs_of_one_level():
    base = "\n".join(f"o{level} = sum(P{level}, t) @ P{level} -> out" for level in range(3, 8))
    tie = [parse_genotype(f"a = sum(P3, P4) @ P4\nt = gp({x}, {y}) @ P5\n{base}")
           for x, y in (("a", "P4"), ("P4", "a"))]
    assert SPACE.genotype_hash(tie[0]) != SPACE.genotype_hash(tie[1])
    apart = [parse_genotype(f"t = gp({x}, {y}) @ P5\n{base}")
             for x, y in (("P3", "P4"), ("P4", "P3"))]
    assert SPACE.genotype_hash(apart[0]) == SPACE.genotype_hash(apart[1])


def _shuffled_intermediates(genes: tuple[Gene, ...], rng: np.random.Generator,
                            num_inputs: int) -> tuple[Gene, ...]:
    """The same pyramid with its intermediate cells in another topological order."""
    middle = len(genes) - num_inputs
    order: list[int] = []
    left = list(range(middle))
    while left:
        ready = [c for c in left
                 if all(f < num_inputs or f - num_inputs in order for f in genes[c].inputs)]
        pick = ready[int(rng.integers(len(ready)))]
        order.append(pick)
        left.remove(pick)
    new_index = {num_inputs + old: num_inputs + new for new, old in enumerate(order)}
    new_index.update({num_inputs + c: num_inputs + c for c in range(middle, len(genes))})
    moved = [genes[c] for c in order] + list(genes[middle:])
    return tuple(Gene(tuple(new_index.get(f, f) for f in gene.inputs), gene.level, gene.op)
                 for gene in moved)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_hash_is_canonical_over_spellings(seed):
    rng = np.random.default_rng(seed)
    decisions = SPACE.sample(rng)
    genes = SPACE.decode(decisions)
    reordered = SPACE.encode_genes(_shuffled_intermediates(genes, rng, len(SPACE.levels)))
    assert SPACE.hash(reordered) == SPACE.hash(decisions)
    genotype = SPACE.to_genotype(decisions)
    assert SPACE.genotype_hash(genotype) == SPACE.hash(decisions)
    assert SPACE.hash(SPACE.canonical(decisions)) == SPACE.hash(decisions)


# -- decisions: sequential rules, round trips ----------------------------------------------------

@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_decisions_round_trip(seed):
    decisions = random_point(seed)
    assert SPACE.check(decisions) == decisions
    assert SPACE.encode_genes(SPACE.decode(decisions)) == decisions
    genotype = SPACE.to_genotype(decisions)  # parsed and validated like a hand-written file
    assert SPACE.encode(genotype) == decisions
    assert SPACE.contains(genotype) == (True, "")
    assert SPACE.cell_count(decisions) == len(genotype.cells)
    for step, token in enumerate(decisions):
        assert token in SPACE.valid_choices(step, decisions)
    assert SPACE.is_complete(decisions) and not SPACE.is_complete(decisions[:-1])


def test_check_names_the_bad_decision():
    fpn = SPACE.encode(load_genotype("fpn"))
    assert fpn[:5] == (5, 2, 4, 3, 4)  # 5 cells; cell 1: 2 inputs P7, P6, level P7
    with pytest.raises(SearchError, match=r"decision 3 \(cell n1, input\) = 4 is not allowed"):
        SPACE.check(fpn[:3] + (4,) + fpn[4:])  # P7 twice
    with pytest.raises(SearchError, match=r"decision 0 \(cells\) = 11"):
        SPACE.check((11,) + fpn[1:])
    with pytest.raises(SearchError, match="end before the last cell"):
        SPACE.check(fpn[:-1])
    with pytest.raises(SearchError, match="after the last cell"):
        SPACE.check(fpn + (0,))


def test_space_round_trips_through_its_dict():
    for space in (SPACE, AnchoredSpace(cells=7, max_inputs=2, ops=("sum", "gp"))):
        data = space.to_dict()
        assert data["kind"] == "anchored"
        assert AnchoredSpace.from_dict(data) == space
    with pytest.raises(SearchError, match="kind"):
        AnchoredSpace.from_dict({**SPACE.to_dict(), "kind": "paper"})


def test_settings_are_checked():
    with pytest.raises(SearchError, match="at least 5"):
        AnchoredSpace(cells=(4, 8))
    with pytest.raises(SearchError, match="max_inputs"):
        AnchoredSpace(max_inputs=1)
    with pytest.raises(SearchError, match="unknown op"):
        AnchoredSpace(ops=("sum", "mul"))
    assert AnchoredSpace(cells=6).cells == (6, 6)


def test_describe_names_the_decisions_and_the_size():
    info = SPACE.describe()
    assert info["kind"] == "anchored"
    assert info["cells"] == [5, 10] and info["max_inputs"] == 3
    assert info["ops"] == ["sum", "gp", "wsum"]
    low, high = info["log10_pyramids"]
    assert 0 < low < high
    assert [d["kind"] for d in info["decisions"]] == ["cells", "arity", "input", "level", "op"]


# -- the size figure -----------------------------------------------------------------------------

def test_size_of_a_small_space_by_hand():
    space = AnchoredSpace(cells=5, max_inputs=2, ops=("sum",))
    # no intermediate cells: output c chooses 2 of the 5 + c earlier features; levels permute
    spellings = 10 * 15 * 21 * 28 * 36 * math.factorial(5)
    low, high = space.log10_size()
    assert high == pytest.approx(math.log10(spellings))
    assert low == pytest.approx(math.log10(spellings / math.factorial(5)))


def test_size_counts_gp_orders_in_the_upper_bound():
    low_gp, high_gp = AnchoredSpace(cells=5, max_inputs=2, ops=("gp",)).log10_size()
    assert high_gp == pytest.approx(math.log10(10 * 15 * 21 * 28 * 36 * 2 ** 5 * 120))
    assert low_gp == pytest.approx(math.log10(10 * 15 * 21 * 28 * 36))


def test_bounds_hold_against_a_brute_force_count_of_a_tiny_space():
    # every decision sequence of a two-level space, counted by distinct canonical hash
    space = AnchoredSpace(cells=(2, 3), max_inputs=2, levels=(3, 4), ops=("sum", "gp"))
    prefixes: list[tuple[int, ...]] = [()]
    hashes = set()
    while prefixes:
        prefix = prefixes.pop()
        if space.is_complete(prefix):
            hashes.add(space.hash(prefix))
            continue
        prefixes.extend(prefix + (c,) for c in space.valid_choices(len(prefix), prefix))
    low, high = space.log10_size()
    assert low <= math.log10(len(hashes)) <= high


# -- points compile ------------------------------------------------------------------------------

def test_anchors_and_random_points_compile_and_run(one_thread):
    import torch

    from nasfpn_cli.modeling.neck import build_neck

    features = [torch.randn(2, 4, size, size) for size in (16, 8, 4)]  # a 128 px image
    points = list(SPACE.anchors()) + [random_point(seed) for seed in range(6)]
    for decisions in points:
        neck = build_neck(SPACE.to_genotype(decisions), in_channels=(4, 4, 4), channels=8, stack=2)
        outputs = neck(features)
        assert [tuple(o.shape) for o in outputs] == [(2, 8, s, s) for s in (16, 8, 4, 2, 1)]
        assert all(torch.isfinite(o).all() for o in outputs)
