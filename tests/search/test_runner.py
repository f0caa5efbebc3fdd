"""The search loop and its files: trials.jsonl, state.pt, best.txt, resume, caching."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from nasfpn_cli.errors import SearchError
from nasfpn_cli.genotype import load_genotype, parse_genotype
from nasfpn_cli.search.rewards import Reward, RewardSpec, register_reward
from nasfpn_cli.search.runner import SearchConfig, run_search
from nasfpn_cli.search.space import SearchSpace
from nasfpn_cli.search.trials import read_trials

SIMILARITY = RewardSpec.parse("similarity:nasfpn")


def config(out: Path, trials: int, controller: str = "ppo", **rest) -> SearchConfig:
    return SearchConfig(out, SIMILARITY, controller, trials=trials, **rest)


def lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "trials.jsonl").read_text().splitlines()]


def test_search_writes_its_files(tmp_path):
    summary = run_search(config(tmp_path, 30), progress=False)
    records = lines(tmp_path)
    assert [r["step"] for r in records] == list(range(30))
    assert sorted(r["trial"] for r in records) == list(range(30))
    assert set(records[0]) == {"step", "trial", "hash", "genotype", "reward", "seconds", "worker",
                               "decisions", "cached", "error", "finished_at"}
    space = SearchSpace()
    for record in records:
        assert parse_genotype(record["genotype"]) == space.to_genotype(record["decisions"])
        assert record["hash"] == space.hash(record["decisions"])
    best = max(records, key=lambda r: r["reward"])
    assert summary.best.reward == best["reward"]
    best_genotype = parse_genotype((tmp_path / "best.txt").read_text())
    assert space.encode(best_genotype) == tuple(best["decisions"])
    assert best_genotype.name == "searched"
    assert json.loads((tmp_path / "search.json").read_text())["identity"]["reward"]["argument"] \
        == "nasfpn"


def test_known_architectures_are_not_evaluated_again(tmp_path):
    # a converged evolution re-proposes architectures: their rewards come from the cache
    run_search(config(tmp_path, 300, "evolution"), progress=False)
    records = lines(tmp_path)
    cached = [r for r in records if r["cached"]]
    assert cached and all(r["worker"] == "cache" and r["seconds"] == 0 for r in cached)
    first = {}
    for record in records:
        first.setdefault(record["hash"], record)
        assert record["reward"] == first[record["hash"]]["reward"]
        assert record["cached"] == (first[record["hash"]] is not record)


def test_resume_extends_a_finished_search_exactly(tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    run_search(config(straight, 40), progress=False)
    run_search(config(split, 25), progress=False)
    run_search(config(split, 40), resume=True, progress=False)
    timing = ("seconds", "finished_at")
    assert [{k: v for k, v in r.items() if k not in timing} for r in lines(split)] == \
        [{k: v for k, v in r.items() if k not in timing} for r in lines(straight)]


def test_resume_repairs_a_torn_last_line(tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    run_search(config(straight, 30), progress=False)
    run_search(config(killed, 20), progress=False)
    with open(killed / "trials.jsonl", "a") as handle:
        handle.write('{"step":20,"trial":20,"hash":"0f57')  # a write cut short by a kill
    assert len(read_trials(killed / "trials.jsonl")) == 20
    run_search(config(killed, 30), resume=True, progress=False)
    assert [r["decisions"] for r in lines(killed)] == [r["decisions"] for r in lines(straight)]


def test_lost_trial_lines_are_detected(tmp_path):
    run_search(config(tmp_path, 20), progress=False)
    text = (tmp_path / "trials.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "trials.jsonl").write_text("".join(text[:18]))
    with pytest.raises(SearchError, match="has 18 trials, but state.pt was saved after 20"):
        run_search(config(tmp_path, 30), resume=True, progress=False)


def test_a_second_search_in_the_same_folder_is_refused(tmp_path):
    run_search(config(tmp_path, 3), progress=False)
    with pytest.raises(SearchError, match="a search already lives here"):
        run_search(config(tmp_path, 3), progress=False)
    with pytest.raises(SearchError, match="other settings"):
        run_search(config(tmp_path, 5, "random"), resume=True, progress=False)


def test_damaged_trials_file_is_reported(tmp_path):
    run_search(config(tmp_path, 3), progress=False)
    text = (tmp_path / "trials.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "trials.jsonl").write_text(text[0] + "{oops}\n" + text[2])
    with pytest.raises(SearchError, match=r"trials.jsonl:2: not a trial record"):
        read_trials(tmp_path / "trials.jsonl")


def test_final_selection_scores_the_top_again_and_resumes(tmp_path, cli):
    """The best distinct architectures get more scorings, each with a seed of its own, in
    final.jsonl; a resumed search scores nothing twice; the CLI and the report show it."""
    from nasfpn_cli.search.final import load_final, read_final
    from nasfpn_cli.search.store import SearchStore

    config = SearchConfig(tmp_path, RewardSpec.parse("similarity:nasfpn"), "random", seed=2,
                          trials=20, final_top_k=3, final_seeds=2)
    summary = run_search(config, progress=False)
    scores = read_final(SearchStore(tmp_path).final)
    assert len(scores) == 6 and len({s.seed for s in scores}) == 6
    assert len(summary.final) == 3 and all(len(a.rewards) == 3 for a in summary.final)
    best = max(r.reward for r in summary.records)
    assert summary.final[0].mean == pytest.approx(best)  # a deterministic reward: std 0
    assert [a.hash for a in load_final(tmp_path, summary.records)] == [
        a.hash for a in summary.final]
    before = (SearchStore(tmp_path).final).read_bytes()
    from nasfpn_cli.search.runner import resumed_config

    run_search(resumed_config(tmp_path, final_top_k=3, final_seeds=2), resume=True,
               progress=False)
    assert (SearchStore(tmp_path).final).read_bytes() == before  # nothing scored twice
    report = cli("search", "report", str(tmp_path))
    assert report.returncode == 0, report.stderr
    assert "final selection" in report.stdout and "beyond the noise" in report.stdout


class _SeedBlind(Reward):
    """The same score for every architecture and seed; its final selection re-scores by
    similarity to nasfpn, as the supernet's does by short trainings."""

    def score(self, candidate, budget=None):
        return 0.5

    def final_scorer(self, spec):
        return RewardSpec.parse("similarity:nasfpn")


register_reward("seed-blind")(lambda argument, space, options: _SeedBlind())


def test_a_reward_may_name_another_that_scores_its_final_selection(tmp_path, cli):
    """The repeats come from the named reward, the search's own score stays out of the mean,
    final.jsonl and the report say which reward scored, and a final.jsonl of another scorer is
    refused on resume instead of being mixed in."""
    from nasfpn_cli.search.final import load_final, read_final
    from nasfpn_cli.search.store import SearchStore
    from nasfpn_cli.search.runner import resumed_config

    config = SearchConfig(tmp_path, RewardSpec.parse("seed-blind"), "random", seed=3, trials=12,
                          final_top_k=3, final_seeds=2)
    summary = run_search(config, progress=False)
    assert all(r.reward == 0.5 for r in summary.records)
    space = SearchSpace()
    target = space.encode(load_genotype("nasfpn"))
    for arch in summary.final:
        assert arch.scorer == "similarity"
        assert arch.rewards == (space.similarity(arch.decisions, target),) * 2  # no 0.5 in it
    assert [a.mean for a in summary.final] == sorted((a.mean for a in summary.final),
                                                     reverse=True)
    assert {s.scorer for s in read_final(SearchStore(tmp_path).final)} == {"similarity"}
    assert load_final(tmp_path, summary.records) == summary.final
    report = cli("search", "report", str(tmp_path), "--top", "4", "--genotypes-dir",
                 str(tmp_path / "found"))
    assert report.returncode == 0, report.stderr
    assert "by the similarity reward" in report.stdout
    # the genotypes written follow the final selection, then the search's ranking of the rest
    found = [space.encode(load_genotype(tmp_path / "found" / f"found{rank}.txt"))
             for rank in range(1, 5)]
    assert found[:3] == [tuple(arch.decisions) for arch in summary.final]
    assert found[3] not in found[:3]
    assert "final selection" in (tmp_path / "found" / "found1.txt").read_text()
    lines_ = (SearchStore(tmp_path).final).read_text().splitlines()
    (SearchStore(tmp_path).final).write_text("\n".join(line.replace('"scorer":"similarity"',
                                                              '"scorer":null')
                                                 for line in lines_) + "\n")
    with pytest.raises(SearchError, match=r"final.jsonl: scored by the search's own reward; "
                                          r"this search re-scores by the similarity reward"):
        run_search(resumed_config(tmp_path), resume=True, progress=False)


def test_the_final_ranking_leaves_the_trials_own_score_out():
    """The trial's score put an architecture in the top k, so it is biased upward: a lucky trial
    (0.40, then 0.20 and 0.22) ranks below a steady one (0.30, then 0.25 and 0.26)."""
    from nasfpn_cli.search.final import FinalArchitecture, _ranked
    from nasfpn_cli.search.trials import TrialRecord

    lucky = FinalArchitecture("lucky", (), (0.40, 0.20, 0.22))
    steady = FinalArchitecture("steady", (), (0.30, 0.25, 0.26))
    assert lucky.scores == (0.20, 0.22) and lucky.mean == pytest.approx(0.21)
    assert steady.mean == pytest.approx(0.255) and steady.std == pytest.approx(0.00707, abs=1e-5)
    assert FinalArchitecture("alone", (), (0.3,)).mean == 0.3  # no repeats: the trial's own
    records = [TrialRecord(step=i, trial=i, hash=h, genotype="", reward=r, seconds=1.0,
                           worker="w", decisions=[])
               for i, (h, r) in enumerate([("lucky", 0.40), ("steady", 0.30)])]
    ranked = _ranked([(records[0], {1: 0.20, 2: 0.22}), (records[1], {1: 0.25, 2: 0.26})], None)
    assert [arch.hash for arch in ranked] == ["steady", "lucky"]


def test_a_winner_within_noise_is_called_so():
    from nasfpn_cli.search.final import FinalArchitecture, within_noise

    noisy = [FinalArchitecture("a", (), (0.30, 0.20, 0.25)),
             FinalArchitecture("b", (), (0.24, 0.26, 0.22))]
    clear = [FinalArchitecture("a", (), (0.30, 0.31, 0.30)),
             FinalArchitecture("b", (), (0.20, 0.21, 0.20))]
    assert within_noise(noisy) and not within_noise(clear)
    assert not within_noise(noisy[:1])


def test_the_final_table_shows_a_scorer_read_from_the_file_as_text():
    import numpy as np
    from rich.console import Console

    from nasfpn_cli.commands.search import final_table
    from nasfpn_cli.search.final import FinalArchitecture

    space = SearchSpace()
    decisions = space.sample(np.random.default_rng(0))
    console = Console(width=300, record=True)
    console.print(final_table([FinalArchitecture("h", tuple(decisions), (0.1, 0.2),
                                                 "[red]x[/red]")], space))
    assert "by the [red]x[/red] reward" in console.export_text()
