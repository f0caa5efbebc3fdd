"""Searching the anchored space (issue 28): ``--space anchored``, seeded evolution and local
search starting from the bundled pyramids, ``--seed-from``, resume."""
from __future__ import annotations

import json

import numpy as np
import pytest

from nasfpn_cli.genotype import load_genotype
from nasfpn_cli.search.anchored import ANCHORS, AnchoredSpace
from nasfpn_cli.search.controllers import build_controller
from nasfpn_cli.search.edits import edit_distance, neighbours
from nasfpn_cli.search.rewards import RewardSpec
from nasfpn_cli.search.runner import SearchConfig, resumed_config, run_search

SPACE = AnchoredSpace()


def trial_hashes(out) -> list[str]:
    return [json.loads(line)["hash"] for line in (out / "trials.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("controller", ["evolution", "local"])
def test_a_seeded_search_first_tries_the_anchors_in_order(cli, tmp_path, controller):
    out = tmp_path / controller
    result = cli("search", "--space", "anchored", "--controller", controller, "--reward",
                 "similarity:bifpn", "--trials", "12", "--final-top-k", "0", "-o", str(out))
    assert result.returncode == 0, result.stderr
    anchors = [SPACE.genotype_hash(load_genotype(name)) for name in ANCHORS]
    assert trial_hashes(out)[:4] == anchors
    stored = json.loads((out / "search.json").read_text())["identity"]
    assert [seed["name"] for seed in stored["seed_from"]] == list(ANCHORS)
    assert stored["space"]["kind"] == "anchored"


def test_local_search_proposes_neighbours_of_the_incumbent_and_climbs():
    target = SPACE.mutate(SPACE.mutate(SPACE.encode(load_genotype("panet")),
                                       np.random.default_rng(3)), np.random.default_rng(4))
    seeds = tuple(SPACE.encode(load_genotype(name)) for name in ANCHORS)
    controller = build_controller("local", SPACE, 0, seeds=seeds)
    best, proposals = None, []
    for _ in range(60):
        proposal = controller.ask()
        proposals.append(proposal.decisions)
        reward = SPACE.similarity(proposal.decisions, target)
        controller.tell(proposal, reward)
        best = reward if best is None else max(best, reward)
    assert [SPACE.hash(p) for p in proposals[:4]] == [SPACE.hash(s) for s in seeds]
    first_move = proposals[4]
    incumbent = max(seeds, key=lambda s: SPACE.similarity(s, target))
    assert SPACE.hash(first_move) in {SPACE.hash(n) for n in neighbours(SPACE, incumbent)}
    assert best > max(SPACE.similarity(s, target) for s in seeds)  # it climbed past the seeds
    assert len({SPACE.hash(p) for p in proposals}) == len(proposals)  # never twice


def test_a_resumed_local_search_continues_as_one_never_stopped(tmp_path):
    def config(out, trials):
        return SearchConfig(out, RewardSpec.parse("similarity:panet"), "local", space=SPACE,
                            trials=trials, final_top_k=0,
                            seeds=tuple((n, SPACE.encode(load_genotype(n))) for n in ANCHORS))

    run_search(config(tmp_path / "once", 30), progress=False)
    run_search(config(tmp_path / "twice", 14), progress=False)
    run_search(resumed_config(tmp_path / "twice", trials=30), resume=True, progress=False)
    assert trial_hashes(tmp_path / "once") == trial_hashes(tmp_path / "twice")


@pytest.mark.parametrize("args, message", [
    (("--space", "paper", "--controller", "evolution", "--seed-from", "fpn"),
     "--seed-from fpn: not a point"),
    (("--controller", "random", "--space", "anchored", "--seed-from", "fpn"),
     "--controller random does not start from"),
    (("--space", "anchored", "--controller", "local", "--seed-from", "nope"), "nope"),
    (("--space", "anchored", "--controller", "evolution", "--paper-constraints"),
     "--paper-constraints"),
    (("--space", "paper", "--max-inputs", "3"), "--max-inputs"),
    (("--space", "paper", "--cells", "5..9"), "--cells 5..9"),
    (("--space", "anchored", "--controller", "local", "--cells", "9..6"), "LOW is above HIGH"),
    (("--space", "paper", "--controller", "local", "--seed-from", "none"), "--space anchored"),
    (("--controller", "random", "--ppo-imitation-steps", "5"),
     "--ppo-imitation-steps: not an option of --controller random"),
])
def test_space_and_seed_options_that_do_not_fit_are_named(cli, tmp_path, args, message):
    result = cli("search", "--reward", "similarity:nasfpn", *args, "--trials", "2", "-o",
                 str(tmp_path / "out"))
    assert result.returncode in (1, 2) and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args, space, controller", [
    ((), "anchored", "evolution"),  # the default: the anchored space, searched from the anchors
    (("--space", "paper"), "paper", "ppo"),
    (("--space", "paper", "--controller", "random"), "paper", "random"),
    (("--controller", "local"), "anchored", "local"),
])
def test_the_default_space_is_anchored_and_its_controller_follows_the_space(cli, args, space,
                                                                              controller):
    shown = cli("search", *args, "--print-config")
    assert shown.returncode == 0, shown.stderr
    config = json.loads(shown.stdout)
    assert (config["space"], config["controller"]) == (space, controller)


def test_the_anchors_are_several_edits_apart():
    points = {name: SPACE.encode(load_genotype(name)) for name in ANCHORS}
    assert all(edit_distance(SPACE, points[a], points[b]) >= 2
               for a in ANCHORS for b in ANCHORS if a < b)


def test_search_space_names_the_points_and_why_others_are_not(cli, tmp_path):
    shown = cli("search", "space", "--space", "anchored", *ANCHORS)
    assert shown.returncode == 0, shown.stderr
    assert "5..10 cells of 2..3 inputs" in shown.stdout and "pyramids" in shown.stdout
    for name in ANCHORS:
        assert f"point {name} (hash {SPACE.genotype_hash(load_genotype(name))})" in shown.stdout
    refused = cli("search", "space", "--space", "anchored", "--max-inputs", "2", "bifpn",
                  "fpn", "--json")
    assert refused.returncode == 1
    report = json.loads(refused.stdout)
    assert report["space"]["kind"] == "anchored" and report["space"]["max_inputs"] == 2
    bifpn, fpn = report["genotypes"]
    assert (bifpn["in_space"], bifpn["reason"]) == (
        False, "cell 'p4' has 3 inputs; the space allows at most 2")
    assert fpn["in_space"] and fpn["hash"] == SPACE.genotype_hash(load_genotype("fpn"))
    assert AnchoredSpace(max_inputs=2).check(fpn["decisions"])
    paper = cli("search", "space", "--space", "paper", "nasfpn", "fpn")
    assert paper.returncode == 1 and "not a point fpn" in paper.stdout
    assert "residual" in paper.stdout


def test_the_final_selection_scores_the_anchors_beside_the_best_at_the_same_seeds(tmp_path):
    from nasfpn_cli.search.final import read_final
    from nasfpn_cli.search.store import SearchStore

    seeds = tuple((n, SPACE.encode(load_genotype(n))) for n in ANCHORS)
    run_search(SearchConfig(tmp_path, RewardSpec.parse("similarity:nasfpn"), "local",
                            space=SPACE, trials=20, final_top_k=2, final_seeds=2, seeds=seeds),
               progress=False)
    scores = read_final(SearchStore(tmp_path).final)
    scored = {score.hash for score in scores}
    assert {SPACE.hash(d) for _, d in seeds} <= scored and len(scored) >= 5
    for repeat in (1, 2):  # paired: one seed per repeat, whatever the architecture
        assert len({s.seed for s in scores if s.repeat == repeat}) == 1


def test_winners_are_judged_paired_against_the_best_anchor():
    from nasfpn_cli.search.anchoring import compare_to_anchors, verdict
    from nasfpn_cli.search.final import FinalArchitecture

    def arch(name, *repeats):
        return FinalArchitecture(name, (len(name),), (0.5, *repeats))

    final = [arch("lucky", 0.71, 0.69, 0.70), arch("steady", 0.632, 0.612, 0.622),
             arch("fpn", 0.60, 0.60, 0.60), arch("bifpn", 0.62, 0.61, 0.62)]
    anchors = {"fpn": "fpn", "bifpn": "bifpn"}
    judged = {c.hash: c for c in compare_to_anchors(final, anchors, lambda a, b: abs(a[0] - b[0]),
                                                    lambda d: 100 * d[0])}
    lucky, steady = judged["lucky"], judged["steady"]
    assert lucky.best_anchor == "bifpn" and lucky.difference == pytest.approx(0.0833, abs=1e-3)
    assert lucky.beats and not steady.beats and not steady.trails  # +0.004: no lead
    # the toy point is the name's length: steady (6) is nearest bifpn (5), 1.2x its MACs
    assert (steady.nearest, steady.distance, steady.macs_ratio) == ("bifpn", 1, pytest.approx(1.2))
    assert verdict(list(judged.values())).startswith("lucky beats the best anchor bifpn")
    assert verdict([steady]).startswith("nothing beat the best anchor bifpn")


@pytest.mark.parametrize("args, message", [
    (("--space", "paper", "--controller", "local"), "--controller local searches --space anch"),
])
def test_a_controller_and_a_space_that_do_not_go_together_are_a_usage_error(cli, tmp_path, args,
                                                                           message):
    result = cli("search", "--reward", "similarity:nasfpn", *args, "-o", str(tmp_path / "o"))
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_the_supernet_takes_the_anchored_space(tmp_path):
    # its network, scores and a search with it: tests/search/test_anchored_supernet*.py
    from nasfpn_cli.search.rewards import build_reward

    assert build_reward(RewardSpec("supernet"), SPACE, tmp_path).space == SPACE
