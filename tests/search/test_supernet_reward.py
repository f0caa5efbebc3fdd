"""``--reward supernet`` on a tiny setting: trained once, candidates scored without training,
resumed after an interruption or ``kill -9`` to the same weights, reused by a later search, and
a file of another space, data or version refused by name."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from nasfpn_cli.errors import SearchError
from nasfpn_cli.genotype import load_genotype
from nasfpn_cli.search.final import read_final
from nasfpn_cli.search.store import SearchStore
from nasfpn_cli.search.rewards import Candidate, RewardSpec, build_reward
from supernet_maps import one_thread  # noqa: F401 (an autouse fixture)
from nasfpn_cli.search.runner import resumed_config, run_search
from nasfpn_cli.search.space import SearchSpace
from nasfpn_cli.search.supernet import training
from nasfpn_cli.utils import read_jsonl

ROOT = Path(__file__).resolve().parents[2]
TINY = dict(image_size=64, channels=16, stack=1, synth_images=12, batch_size=4)
TINY_FLAGS = ("--proxy-image-size", "64", "--proxy-channels", "16", "--proxy-stack", "1",
              "--proxy-images", "12", "--proxy-batch-size", "4")
SPACE = SearchSpace()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def reward(out: Path, argument: str = "steps=6,checkpoint_every=2", space: SearchSpace = SPACE,
           **options):
    return build_reward(RewardSpec("supernet", argument, {**TINY, **options}), space, out)


def candidate(index: int) -> Candidate:
    decisions = SPACE.sample(np.random.default_rng(index))
    return Candidate(SPACE.to_genotype(decisions), decisions, str(index), 0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A search folder with its data and a supernet trained for 6 steps."""
    out = tmp_path_factory.mktemp("trained")
    reward(out).prepare()
    return out


def test_trained_once_then_scores_candidates_without_training(trained, monkeypatch):
    log = trained / "supernet-training"
    assert [r["step"] for r in read_jsonl(log / "metrics.jsonl")] == [6]
    assert (log / "losses.png").read_bytes().startswith(PNG_MAGIC)
    first = reward(trained)
    first.prepare()  # the finished file is reused
    monkeypatch.setattr(training, "train_supernet", lambda *a, **k: pytest.fail("retrained"))
    scores = [first.score(candidate(i)) for i in range(3)]
    assert all(0.0 <= s <= 1.0 for s in scores)
    worker = reward(trained)  # a worker process: no prepare(), the file is loaded on first use
    assert [worker.score(candidate(i)) for i in (2, 1, 0)] == scores[::-1]
    # what a search's trial calls (worker.run_trial): the same score, and no training at all
    import nasfpn_cli.engine

    monkeypatch.setattr(nasfpn_cli.engine, "train", lambda *a, **k: pytest.fail("trained"))
    assert [worker.evaluate(candidate(i)).score for i in range(3)] == scores
    loss = reward(trained, "steps=6,score=loss")
    assert 0.0 < loss.score(candidate(0)) < 1.0
    assert first.budget_range() is None and first.cost(candidate(0).genotype) > 0


def test_an_interrupted_training_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path,
                                                                               monkeypatch):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    reward(straight).prepare()
    original = training.sample_path

    def stop_at_step_5(space, seed, step):
        if step == 5:
            raise KeyboardInterrupt  # as a kill: nothing after the last checkpoint is kept
        return original(space, seed, step)

    monkeypatch.setattr(training, "sample_path", stop_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        reward(killed).prepare()
    assert training.read_supernet(killed / "supernet.pt")["trainer"]["step"] == 4
    ran: list[int] = []

    def recording(space, seed, step):
        ran.append(step)
        return original(space, seed, step)

    monkeypatch.setattr(training, "sample_path", recording)
    reward(killed).prepare()
    assert ran == [4, 5]  # only the steps after the last checkpoint run again
    a = training.read_supernet(straight / "supernet.pt")["trainer"]["model"]
    b = training.read_supernet(killed / "supernet.pt")["trainer"]["model"]
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    steps = [r["step"] for r in read_jsonl(killed / "supernet-training" / "metrics.jsonl")]
    assert steps == [6]  # nothing logged after the last checkpoint survives, nothing twice


def test_a_file_of_another_space_data_model_or_version_is_refused_by_name(trained, tmp_path):
    path = str(trained / "supernet.pt")
    cases = [
        (dict(space=SearchSpace(num_cells=6)), "space.num_cells: 7 in the file, 6 here"),
        (dict(synth_seed=1), "data.train_ann_sha256"),
        (dict(synth_kind="shapes"), "data.train_ann_sha256"),  # digits file, shapes data
        (dict(channels=8), "model.channels: 16 in the file, 8 here"),
        (dict(argument="steps=7"), "training.steps: 6 in the file, 7 here"),
    ]
    for index, (change, message) in enumerate(cases):
        argument = change.pop("argument", "steps=6") + f",path={path}"
        other = reward(tmp_path / str(index), argument, **change)
        with pytest.raises(SearchError, match=message.replace(".", r"\.")):
            other.prepare()
    state = training.read_supernet(trained / "supernet.pt")
    state["identity"]["format_version"] = 99
    forged = tmp_path / "forged.pt"
    torch.save(state, forged)
    with pytest.raises(SearchError, match="supernet format version 99; this nasfpn reads "
                                          "version 1"):
        reward(trained, f"path={forged}").prepare()
    not_a_supernet = tmp_path / "junk.pt"
    not_a_supernet.write_bytes(b"junk")
    with pytest.raises(SearchError, match="cannot read this supernet checkpoint"):
        reward(trained, f"path={not_a_supernet}").prepare()


def test_a_candidate_outside_the_space_is_a_clear_error(trained):
    fpn = load_genotype("fpn")
    with pytest.raises(SearchError, match="residual none"):
        reward(trained).score(Candidate(fpn, (), "fpn", 0))


def test_bad_settings_are_named(tmp_path):
    with pytest.raises(SearchError, match="unknown setting 'stepz'"):
        reward(tmp_path, "stepz=3")
    with pytest.raises(SearchError, match="steps must be >= 1, got 0"):
        reward(tmp_path, "steps=0")
    with pytest.raises(SearchError, match="norm_scope must be one of level, cell"):
        reward(tmp_path, "norm_scope=x")
    settings = reward(tmp_path, "recalibrate=2", supernet_lr=0.01).supernet_settings
    assert (settings.recalibration_batches, settings.lr, settings.given) == (
        2, 0.01, ("lr", "recalibration_batches"))


def test_a_search_killed_during_supernet_training_resumes_it(tmp_path):
    out = tmp_path / "search"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "nasfpn_cli", "search", "--controller", "random", "--reward",
         "supernet:steps=30,checkpoint_every=10", "--trials", "1", "-o", str(out), *TINY_FLAGS],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (out / "supernet.pt").exists():
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = training.read_supernet(out / "supernet.pt")["trainer"]["step"]
    assert 0 < killed_at < 30
    summary = run_search(resumed_config(out), resume=True, progress=False)
    assert len(summary.records) == 1 and summary.best.reward >= 0
    assert training.read_supernet(out / "supernet.pt")["trainer"]["step"] == 30
    steps = [r["step"] for r in read_jsonl(out / "supernet-training" / "metrics.jsonl")]
    assert steps == sorted(set(steps)) and steps[-1] == 30
    # its final selection re-scored the best by short trainings of the proxy, at 2 seeds
    assert [arch.scorer for arch in summary.final] == ["proxy"]
    assert len(summary.final[0].rewards) == 2
    assert {s.scorer for s in read_final(SearchStore(out).final)} == {"proxy"}


def test_its_final_selection_is_scored_by_the_proxy_of_the_same_settings(tmp_path):
    spec = RewardSpec("supernet", "steps=6", {**TINY, "supernet_recalibrate": 2, "epochs": 2},
                      ("nasfpn_cli.search.rewards.similarity",))
    final = build_reward(spec, SPACE, tmp_path).final_scorer(spec)
    assert final == RewardSpec("proxy", None, {**TINY, "epochs": 2},
                               ("nasfpn_cli.search.rewards.similarity",))
