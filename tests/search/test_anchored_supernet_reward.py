"""``--reward supernet`` in the anchored space (issue 28) on a tiny setting: every anchor and
random points are scored, the same for a seed in every process, a search runs end to end, and
the paper space's settings and files are kept apart from the anchored space's."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from nasfpn_cli.errors import SearchError
from nasfpn_cli.genotype import load_genotype
from nasfpn_cli.search.anchored import ANCHORS, AnchoredSpace
from nasfpn_cli.search.rewards import Candidate, RewardSpec, build_reward
from supernet_maps import one_thread  # noqa: F401 (an autouse fixture)
from nasfpn_cli.search.space import SearchSpace
from nasfpn_cli.search.supernet import training

TINY = dict(image_size=64, channels=16, stack=1, synth_images=12, batch_size=4)
TINY_FLAGS = ("--proxy-image-size", "64", "--proxy-channels", "16", "--proxy-stack", "1",
              "--proxy-images", "12", "--proxy-batch-size", "4")
SPACE = AnchoredSpace()


def reward(out: Path, argument: str = "steps=6,checkpoint_every=3", space=SPACE, **options):
    return build_reward(RewardSpec("supernet", argument, {**TINY, **options}), space, out)


def candidates() -> list[Candidate]:
    found = [Candidate(load_genotype(name), (), name, 0) for name in ANCHORS]
    rng = np.random.default_rng(7)
    for index in range(3):
        decisions = SPACE.sample(rng)
        found.append(Candidate(SPACE.to_genotype(decisions), decisions, f"random{index}", 0))
    return found


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("anchored")
    reward(out).prepare()
    return out


def test_every_anchor_and_random_points_are_scored_the_same_in_every_process(trained):
    first = reward(trained)
    first.prepare()  # the finished file is reused
    scores = [first.score(c) for c in candidates()]
    assert all(0.0 < s < 1.0 for s in scores)  # 1 / (1 + validation loss)
    assert len(set(scores)) > 1
    worker = reward(trained)  # another process: loads the file on first use
    assert [worker.score(c) for c in reversed(candidates())] == scores[::-1]
    state = training.read_supernet(trained / "supernet.pt")
    assert state["identity"]["space"]["kind"] == "anchored"
    assert {key: state["identity"]["training"][key] for key in ("norm_scope", "sampling")} == {
        "norm_scope": "inputs", "sampling": "anchors"}


def test_a_second_training_at_the_same_seed_reaches_the_same_weights(trained, tmp_path):
    reward(tmp_path).prepare()
    a = training.read_supernet(trained / "supernet.pt")["trainer"]["model"]
    b = training.read_supernet(tmp_path / "supernet.pt")["trainer"]["model"]
    assert a.keys() == b.keys() and any(".merges." in key for key in a)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


def test_settings_of_the_other_space_are_refused_by_name(trained, tmp_path):
    with pytest.raises(SearchError, match="norm_scope 'inputs' is not a scope of --space paper"):
        reward(tmp_path, "norm_scope=inputs", space=SearchSpace())
    with pytest.raises(SearchError, match="sampling 'anchors' needs --space anchored"):
        reward(tmp_path, "sampling=anchors", space=SearchSpace())
    with pytest.raises(SearchError, match="split 'cells' needs --space anchored"):
        reward(tmp_path, "split=cells", space=SearchSpace())
    with pytest.raises(SearchError, match="sampling must be one of uniform, anchors"):
        reward(tmp_path, "sampling=edits")
    path = trained / "supernet.pt"
    for argument, message in [("sampling=uniform", "training.sampling: 'anchors' in the file, "
                                                   "'uniform' here"),
                              ("norm_scope=level", "training.norm_scope: 'inputs' in the file")]:
        with pytest.raises(SearchError, match=message):
            reward(tmp_path, f"steps=6,{argument},path={path}").prepare()
    with pytest.raises(SearchError, match="training.split: None in the file, 'cells' here"):
        reward(tmp_path, f"steps=6,split=cells,path={path}").prepare()
    with pytest.raises(SearchError, match="space.kind: 'anchored' in the file, None here"):
        reward(tmp_path, f"steps=6,path={path}", space=SearchSpace()).prepare()


def test_a_seeded_evolution_search_with_the_supernet_runs_end_to_end(run, trained, tmp_path):
    out = tmp_path / "search"  # the fixture's data and finished supernet, reused as they are
    shutil.copytree(trained / "proxy_data", out / "proxy_data")
    shutil.copy(trained / "supernet.pt", out / "supernet.pt")
    code, _, err = run("search", "--space", "anchored", "--controller", "evolution",
                       "--reward", "supernet", "--supernet-recalibrate", "1", "--trials", "6",
                       "--final-top-k", "0", "-o", out, *TINY_FLAGS)
    assert code == 0, err
    trials = [json.loads(line) for line in (out / "trials.jsonl").read_text().splitlines()]
    assert len(trials) == 6 and all(0.0 < t["reward"] < 1.0 for t in trials)
    assert [t["hash"] for t in trials[:4]] == [SPACE.genotype_hash(load_genotype(name))
                                              for name in ANCHORS]
    assert not (out / "supernet-training").exists()  # scored with the file, not retrained


def test_a_few_shot_supernet_trains_records_its_split_and_scores(tmp_path):
    """split=cells: a sub-supernet per cell count, in the file's identity (a reuse without the
    setting follows the file), scoring every anchor."""
    reward(tmp_path, "steps=6,checkpoint_every=3,split=cells").prepare()
    state = training.read_supernet(tmp_path / "supernet.pt")
    assert state["identity"]["training"]["split"] == "cells"
    reused = reward(tmp_path)  # split not given: the file decides
    reused.prepare()
    assert reused._run.split == "cells"
    assert all(0.0 < reused.score(c) < 1.0 for c in candidates()[:4])
