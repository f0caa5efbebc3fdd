"""Edits of the anchored space: every edit of a point is a point, the neighbourhood is
deterministic and symmetric, and the edit distance is 0 for the same pyramid, symmetric and 1
for every neighbour."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nasfpn_cli.errors import SearchError
from nasfpn_cli.search.anchored import ANCHORS, AnchoredSpace
from nasfpn_cli.search.edits import (
    EDIT_KINDS,
    edit_distance,
    edits,
    is_neighbour,
    lower_bound,
    neighbours,
    random_edit,
)

SPACE = AnchoredSpace()
ANCHOR_POINTS = SPACE.anchors()
STEPS = 40  # edits per example: 2 x 40 examples x 40 steps = 3,200 edits


def assert_point(space: AnchoredSpace, decisions) -> None:
    assert space.check(decisions) == decisions
    low, high = space.cells
    assert low <= space.cell_count(decisions) <= high


def walk(space: AnchoredSpace, start, rng: np.random.Generator, steps: int) -> None:
    point = start
    for step in range(steps):
        moved = random_edit(space, point, rng)
        assert_point(space, moved)
        assert space.hash(moved) != space.hash(point)
        if step % 8 == 0:  # parse and validate like a hand-written file, now and then
            genotype = space.to_genotype(moved)
            assert space.contains(genotype) == (True, "")
            assert space.genotype_hash(genotype) == space.hash(moved)
        point = moved


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(ANCHORS), st.integers(0, 2**32 - 1))
def test_random_edits_from_the_anchors_stay_in_the_space(name, seed):
    walk(SPACE, ANCHOR_POINTS[ANCHORS.index(name)], np.random.default_rng(seed), STEPS)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([SPACE, AnchoredSpace(cells=(5, 7)),
                                                   AnchoredSpace(max_inputs=2, ops=("sum", "gp"))]))
def test_random_edits_from_random_points_stay_in_the_space(seed, space):
    rng = np.random.default_rng(seed)
    walk(space, space.sample(rng), rng, STEPS)


def test_every_listed_edit_of_every_anchor_is_a_point():
    kinds = set()
    with_loose_cell = [d for e, d in edits(SPACE, ANCHOR_POINTS[0]) if e.kind == "insert"][7]
    for point in [*ANCHOR_POINTS, with_loose_cell]:
        for edit, moved in edits(SPACE, point):  # encode_genes checks each one
            assert_point(SPACE, moved)
            kinds.add(edit.kind)
    assert kinds == set(EDIT_KINDS)
    assert list(EDIT_KINDS) == ["input", "op", "level", "add", "drop", "insert", "delete"]


def test_neighbours_are_distinct_deterministic_and_exclude_the_point():
    for point in ANCHOR_POINTS:
        found = neighbours(SPACE, point)
        assert found == neighbours(SPACE, point)
        hashes = [SPACE.hash(d) for d in found]
        assert len(set(hashes)) == len(hashes)
        assert SPACE.hash(point) not in hashes
        assert len(found) > 100


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_the_neighbour_relation_is_symmetric(seed):
    rng = np.random.default_rng(seed)
    point = SPACE.sample(rng) if seed % 2 else ANCHOR_POINTS[seed % 4]
    found = neighbours(SPACE, point)
    for index in rng.choice(len(found), size=min(3, len(found)), replace=False):
        assert is_neighbour(SPACE, point, found[int(index)])
        assert is_neighbour(SPACE, found[int(index)], point)


def test_insert_and_delete_undo_each_other():
    fpn = ANCHOR_POINTS[0]
    inserted = [d for e, d in edits(SPACE, fpn) if e.kind == "insert"]
    assert len(inserted) > 0 and all(SPACE.cell_count(d) == 6 for d in inserted)
    for moved in inserted[:: max(1, len(inserted) // 20)]:
        deleted = [d for e, d in edits(SPACE, moved) if e.kind == "delete"]
        assert SPACE.hash(fpn) in {SPACE.hash(d) for d in deleted}


def test_edits_respect_the_bounds_of_the_space():
    small = AnchoredSpace(cells=(5, 5), max_inputs=2)
    fpn = small.anchors(["fpn"])[0]
    kinds = {edit.kind for edit, _ in edits(small, fpn)}
    assert kinds == {"input", "op", "level"}  # no cell to add or drop, no input to add


# -- the edit distance ---------------------------------------------------------------------------

def test_distance_is_zero_exactly_for_the_same_pyramid():
    for point in ANCHOR_POINTS:
        assert edit_distance(SPACE, point, point) == 0
        canonical = SPACE.canonical(point)
        assert edit_distance(SPACE, point, canonical) == 0
    for a in ANCHOR_POINTS:
        for b in ANCHOR_POINTS:
            if a != b:
                assert edit_distance(SPACE, a, b) >= 2


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_distance_is_one_for_every_neighbour_and_symmetric(seed):
    rng = np.random.default_rng(seed)
    point = SPACE.sample(rng)
    found = neighbours(SPACE, point)
    for index in rng.choice(len(found), size=4, replace=False):
        other = found[int(index)]
        assert edit_distance(SPACE, point, other) == 1
        assert edit_distance(SPACE, other, point) == 1
    twice = random_edit(SPACE, random_edit(SPACE, point, rng), rng)
    far = SPACE.sample(rng)
    for other in (twice, far):
        assert edit_distance(SPACE, point, other) == edit_distance(SPACE, other, point)
        assert edit_distance(SPACE, point, other) >= lower_bound(SPACE, point, other)


def test_the_lower_bound_never_exceeds_the_edits_made():
    rng = np.random.default_rng(5)
    for start in ANCHOR_POINTS:
        point = start
        for steps in range(1, 13):
            point = random_edit(SPACE, point, rng)
            assert lower_bound(SPACE, start, point) <= steps


def test_anchor_distances_are_reported():
    fpn, panet, bifpn, nasfpn = ANCHOR_POINTS
    # panet and bifpn share their graph apart from ops and 3 inputs: at least 8 cells differ
    assert edit_distance(SPACE, panet, bifpn) == lower_bound(SPACE, panet, bifpn) == 8
    assert edit_distance(SPACE, fpn, panet) == lower_bound(SPACE, fpn, panet) == 7


def test_random_edit_checks_its_point():
    with pytest.raises(SearchError):
        random_edit(SPACE, SPACE.anchors()[0][:-1], np.random.default_rng(0))
