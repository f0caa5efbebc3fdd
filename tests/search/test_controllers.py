"""Controllers: they learn under the similarity reward, and a checkpoint continues them exactly."""
from __future__ import annotations

import io

import pytest
import torch

from nasfpn_cli.errors import SearchError
from nasfpn_cli.genotype import load_genotype
from nasfpn_cli.search.controllers import build_controller
from nasfpn_cli.search.space import SearchSpace

SPACE = SearchSpace()
TARGET = SPACE.encode(load_genotype("nasfpn"))


def similarity_run(controller, trials: int) -> list[float]:
    rewards = []
    for _ in range(trials):
        proposal = controller.ask()
        rewards.append(SPACE.similarity(proposal.decisions, TARGET))
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
