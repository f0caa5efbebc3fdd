"""The proxy reward's cheap trials: data opened once per process, images decoded once, no files
written, the Genotype object used as it is, and a diverging run stopped at once."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from nasfpn_cli.data.coco import CocoDetection
from nasfpn_cli.genotype import load_genotype
from nasfpn_cli.search.rewards import Candidate, RewardSpec
from nasfpn_cli.search.rewards.proxy import ProxyReward, ProxySettings
from nasfpn_cli.search.space import SearchSpace
from nasfpn_cli.search.worker import TrialTask, run_trial

TINY = dict(image_size=64, channels=16, stack=1, epochs=1, synth_images=12, batch_size=4)


@pytest.fixture
def decodes(monkeypatch):
    """Counts image decodes from disk."""
    calls = []
    original = CocoDetection.load_image

    def counting(self, index):
        calls.append((self.ann_file.name, index))
        return original(self, index)

    monkeypatch.setattr(CocoDetection, "load_image", counting)
    return calls


def test_trials_reuse_the_data_and_write_nothing(tmp_path, decodes, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    reward = ProxyReward(ProxySettings.from_options({**TINY, "score": "loss"}), tmp_path)
    reward.prepare()
    bundle = reward.task.data()
    scores = [reward(Candidate(load_genotype(name), (), name, seed))
              for name, seed in (("nasfpn", 1), ("fpn", 1), ("nasfpn", 1), ("nasfpn", 2))]
    assert reward.task.data() is bundle  # opened once, in prepare()
    assert len(decodes) == len(set(decodes)) == 12  # every image decoded once, then cached
    assert all(0 < score < 1 for score in scores)
    assert scores[0] == scores[2] != scores[3]  # the seed fixes the run
    assert sorted(os.listdir(tmp_path)) == ["cwd", "proxy_data"]  # no checkpoints, no logs
    assert os.listdir(work) == []


def test_a_diverging_trial_stops_at_once_with_reward_zero(tmp_path):
    space = SearchSpace()
    spec = RewardSpec("proxy", options={**TINY, "epochs": 3, "lr": 1e6, "warmup": 0})
    task = TrialTask(0, space.encode(load_genotype("nasfpn")), "h", 0, space.to_dict(),
                     spec.to_dict(), str(tmp_path))
    from nasfpn_cli.search.rewards import build_reward

    build_reward(spec, space, tmp_path).prepare()
    result = run_trial(task)
    assert result.reward == 0.0 and result.fatal is None
    assert "diverged" in result.error and "at step 2" in result.error


def test_an_unknown_score_is_refused(tmp_path):
    from nasfpn_cli.errors import SearchError

    with pytest.raises(SearchError, match="--proxy-score must be one of ap, ap50, loss"):
        ProxyReward(ProxySettings(score="map"), Path(tmp_path))


@pytest.mark.parametrize("kind, marker, categories", [("digits", "digits.json", 10),
                                                      ("shapes", None, 3)])
def test_generated_proxy_data_by_kind(tmp_path, kind, marker, categories):
    import json

    settings = ProxySettings.from_options({**TINY, "synth_kind": kind})
    ProxyReward(settings, tmp_path).prepare()
    root = tmp_path / "proxy_data"
    val = json.loads((root / "annotations" / "instances_val2017.json").read_text())
    train = json.loads((root / "annotations" / "instances_train2017.json").read_text())
    assert (len(train["images"]), len(val["images"])) == (8, 4)  # a third held out
    assert len(val["categories"]) == categories
    assert (marker is None) or (root / marker).is_file()


def test_unknown_generated_data_kind_is_a_search_error(tmp_path):
    from nasfpn_cli.errors import SearchError

    with pytest.raises(SearchError, match="--proxy-data must be one of digits, shapes"):
        ProxyReward(ProxySettings.from_options({**TINY, "synth_kind": "faces"}), tmp_path)


def test_default_proxy_is_the_calibrated_one():
    """docs/search.md, "Measured": the settings whose tau the docs report."""
    settings = ProxySettings()
    config = settings.config
    model = config.model
    assert (model.backbone, model.stack, model.channels, config.image_size) == \
        ("resnet10", 3, 32, 128)
    assert (config.epochs, config.batch_size, config.optimizer, config.lr, config.weight_decay,
            config.warmup, config.model.anchor_size) == (4, 8, "adamw", 0.003, 0.05, 30, 2.0)
    assert (settings.score, settings.synth_kind, settings.synth_images) == ("ap50", "digits", 300)


def test_proxy_precision_options_reach_its_training(cli):
    """--proxy-amp and --proxy-channels-last are proxy settings like the others (fp32 and
    contiguous unless given, whatever train's defaults); the reference schedule of calibrate
    takes train's defaults (auto, decided in the plan) unless --reference-* says otherwise."""
    settings = ProxySettings.from_options({"amp": "on", "channels_last": True})
    assert (settings.config.amp, settings.config.channels_last) == ("on", "on")
    assert (ProxySettings.from_options({}).config.amp,
            ProxySettings.from_options({}).config.channels_last) == ("off", "off")
    from nasfpn_cli.search.calibration import CalibrationConfig

    config = CalibrationConfig(Path("unused"), proxy={"amp": "on", "channels_last": True},
                               reference={"epochs": 12, "amp": "off"})
    assert (config.settings("reference")["amp"], config.settings("reference")["channels_last"]
            ) == ("off", True)
    default = CalibrationConfig(Path("unused"), proxy={"amp": "on", "channels_last": True})
    assert (default.settings("reference")["amp"], default.settings("reference")["channels_last"]
            ) == ("off", "off")  # auto, decided: no native bf16 in the tests (conftest.py)
    bad = cli("search", "--proxy-amp", "fast", "--print-config")
    assert bad.returncode == 2 and "--proxy-amp" in bad.stderr
