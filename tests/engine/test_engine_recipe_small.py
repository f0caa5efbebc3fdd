"""``--recipe small``: the measured preset for short CPU runs on small objects, and the
options it relies on (``--anchor-size``, ``--ema``) checked like every other option."""
from __future__ import annotations

import pytest

from nasfpn_cli.engine.config import RECIPES, TrainConfig
from nasfpn_cli.errors import UsageError


def test_small_recipe_values_are_pinned():
    config = TrainConfig.from_recipe("small")
    assert (config.image_size, config.model.anchor_size, config.optimizer, config.lr,
            config.weight_decay, config.warmup) == (128, 2.0, "adamw", 0.001, 0.05, 30)
    assert config.recipe == "small" and not config.ema
    assert (config.model.stack, config.model.channels) == (3, 64)
    # everything else stays the CPU defaults
    defaults = TrainConfig()
    assert (config.model.backbone, config.batch_size, config.epochs, config.schedule) == (
        defaults.model.backbone, defaults.batch_size, defaults.epochs, defaults.schedule)
    assert config.model_spec("fpn", 10).anchor_size == 2.0


def test_paper_recipe_is_untouched_by_the_new_options():
    paper = TrainConfig.from_recipe("paper")
    assert "anchor_size" not in RECIPES["paper"] and paper.model.anchor_size == 4.0
    assert not paper.ema


@pytest.mark.parametrize("option, value, message", [
    ("ema_decay", 1.0, "--ema-decay"),
    ("ema_decay", 0.0, "--ema-decay"),
    ("anchor_size", 0.0, "--anchor-size"),
])
def test_bad_values_name_the_option(option, value, message):
    with pytest.raises(UsageError, match=message):
        TrainConfig.from_recipe("small", **{option: value})


def test_cli_knows_the_recipe_and_refuses_bad_values(cli, tmp_path):
    result = cli("train", "fpn", "--recipe", "small", "--ema-decay", "2", "--data",
                 str(tmp_path), "-o", str(tmp_path / "run"))
    assert result.returncode == 2 and "--ema-decay" in result.stderr
    assert "Traceback" not in result.stderr
    helped = cli("train", "--help")
    assert "small" in helped.stdout and "--anchor-size" in helped.stdout
