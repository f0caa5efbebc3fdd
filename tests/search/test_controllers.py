"""Controllers: they learn under the similarity reward, and a checkpoint continues them exactly."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from nasfpn_cli.errors import SearchError
from nasfpn_cli.genotype import load_genotype
from nasfpn_cli.search.anchored import AnchoredSpace
from nasfpn_cli.search.controllers import build_controller
from nasfpn_cli.search.edits import edit_distance
from nasfpn_cli.search.space import SearchSpace

SPACE = SearchSpace()
TARGET = SPACE.encode(load_genotype("nasfpn"))


def similarity_run(controller, trials: int, target=TARGET) -> list[float]:
    """Rewards of ``trials`` proposals under the similarity to ``target`` in the controller's
    own space."""
    rewards = []
    for _ in range(trials):
        proposal = controller.ask()
        rewards.append(controller.space.similarity(proposal.decisions, target))
        controller.tell(proposal, rewards[-1])
    return rewards


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """Every controller test on one torch thread."""


def test_ppo_learns_to_reach_the_target():
    rewards = similarity_run(build_controller("ppo", SPACE, seed=0), 400)
    random_rewards = similarity_run(build_controller("random", SPACE, seed=0), 400)
    assert max(rewards) >= 0.9
    assert sum(rewards[-50:]) / 50 > sum(rewards[:50]) / 50 + 0.25  # the policy itself moved
    assert max(random_rewards) < 0.75


def test_evolution_climbs_too():
    rewards = similarity_run(build_controller("evolution", SPACE, seed=0), 500)
    assert max(rewards) >= 0.9


@pytest.mark.parametrize("name", ["ppo", "random", "evolution"])
def test_a_restored_controller_continues_identically(name):
    options = {"population_size": 10, "sample_size": 3} if name == "evolution" else {}
    first = build_controller(name, SPACE, seed=3, **options)
    similarity_run(first, 25)
    first.ask()  # a proposal out when the checkpoint is taken
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    second = build_controller(name, SPACE, seed=99, **options)
    second.load_state_dict(torch.load(buffer, weights_only=True))
    assert similarity_run(first, 25) == similarity_run(second, 25)


def test_unknown_controller():
    with pytest.raises(SearchError, match="unknown controller 'bayes'"):
        build_controller("bayes", SPACE, seed=0)


ANCHORED = AnchoredSpace()
ANCHOR_POINTS = tuple(ANCHORED.anchors())


def test_slots_place_each_decision_of_an_anchored_point_once():
    for point in (*ANCHOR_POINTS, *(ANCHORED.sample(np.random.default_rng(s)) for s in range(20))):
        slots = [ANCHORED.next_decision(point[:step])[0] for step in range(len(point))]
        assert slots == sorted(set(slots)) and slots[-1] < ANCHORED.num_slots
        assert ANCHORED.next_decision(point) is None
    # the paper's space: the slot is the step
    point = SPACE.sample(np.random.default_rng(0))
    assert [SPACE.next_decision(point[:s])[0] for s in range(len(point))] == list(range(28))
    assert SPACE.next_decision(point) is None


def test_ppo_learns_in_the_anchored_space():
    """Points of 5 to 10 cells with 2 or 3 inputs: the variable-length policy still climbs."""
    target = ANCHORED.encode(load_genotype("bifpn"))
    rewards = similarity_run(build_controller("ppo", ANCHORED, seed=0), 400, target)
    assert sum(rewards[-50:]) / 50 > sum(rewards[:50]) / 50 + 0.25


def test_seeded_ppo_proposes_the_seeds_first_and_imitation_starts_it_near_them():
    cold = build_controller("ppo", ANCHORED, seed=0, seeds=ANCHOR_POINTS, imitation_steps=0)
    warm = build_controller("ppo", ANCHORED, seed=0, seeds=ANCHOR_POINTS)  # 100 steps
    distances = {}
    for name, controller in (("cold", cold), ("warm", warm)):
        first = [controller.ask() for _ in range(4)]
        assert [p.decisions for p in first] == list(ANCHOR_POINTS)
        assert all(len(p.info["log_probs"]) == len(p.decisions) for p in first)
        for proposal in first:
            controller.tell(proposal, 0.0)
        samples = [controller.ask().decisions for _ in range(30)]
        distances[name] = np.mean([min(edit_distance(ANCHORED, s, a) for a in ANCHOR_POINTS)
                                   for s in samples])
    assert distances["warm"] < distances["cold"] - 1.0


def test_a_restored_anchored_ppo_continues_identically():
    target = ANCHORED.encode(load_genotype("panet"))
    first = build_controller("ppo", ANCHORED, seed=3, seeds=ANCHOR_POINTS, imitation_steps=5)
    similarity_run(first, 25, target)
    first.ask()
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    second = build_controller("ppo", ANCHORED, seed=99, seeds=ANCHOR_POINTS, imitation_steps=5)
    second.load_state_dict(torch.load(buffer, weights_only=True))
    assert similarity_run(first, 25, target) == similarity_run(second, 25, target)
