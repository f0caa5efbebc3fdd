"""TrainConfig: recipes, overrides, validation messages naming the option."""
from __future__ import annotations

import pytest

from nasfpn_cli.engine.config import RECIPES, TrainConfig
from nasfpn_cli.errors import UsageError


def test_paper_recipe_matches_design_notes():
    config = TrainConfig.from_recipe("paper")
    assert (config.batch_size, config.optimizer, config.momentum, config.lr, config.epochs) == \
        (64, "sgd", 0.9, 0.08, 50)
    assert config.schedule == "step" and config.resolved_milestones() == (30, 40)
    assert config.gamma == 0.1 and config.scale_range == (0.8, 1.2)
    assert (config.model.focal_alpha, config.model.focal_gamma) == (0.25, 1.5)
    model = config.model
    assert (model.backbone, model.stack, model.channels, config.image_size) == \
        ("resnet50", 7, 256, 640)
    assert config.recipe == "paper"


def test_explicit_options_override_the_recipe():
    config = TrainConfig.from_recipe("paper", schedule="cosine", lr=0.04)
    assert config.schedule == "cosine" and config.lr == 0.04 and config.batch_size == 64


def test_unknown_recipe_and_option_are_usage_errors():
    with pytest.raises(UsageError, match="--recipe: unknown recipe 'fast'"):
        TrainConfig.from_recipe("fast")
    with pytest.raises(UsageError, match="unknown training option.*colour"):
        TrainConfig.from_recipe(None, colour="red")
    # proxy: the search's proxy task
    assert set(RECIPES) == {"paper", "proxy", "small", "finetune"}


@pytest.mark.parametrize("field, value, message", [
    ("lr", 0.0, "--lr: must be > 0"),
    ("epochs", 0, "--epochs: must be >= 1"),
    ("image_size", 32, "--image-size: must be >= 64 pixels"),
    ("schedule", "linear", "--schedule: must be one of cosine, step"),
    ("scale_range", (1.2, 0.8), "--scale-range: needs 0 < MIN <= MAX"),
    ("dropblock", 1.5, "--dropblock: is DropBlock's final keep probability"),
    ("milestones", (40, 30), "--milestones: must be increasing"),
])
def test_bad_values_name_their_option(field, value, message):
    with pytest.raises(UsageError, match=message):
        TrainConfig.of(**{field: value}).validated()


def test_resume_and_init_from_exclude_each_other():
    with pytest.raises(UsageError, match="--resume and --init-from"):
        TrainConfig.of(resume=True, init_from="a.pt").validated()


def test_default_step_milestones_are_60_and_80_percent():
    assert TrainConfig.of(epochs=50, schedule="step").resolved_milestones() == (30, 40)
    assert TrainConfig.of(epochs=2).resolved_milestones() == (1, 2)


def test_dict_round_trip_restores_tuples():
    config = TrainConfig.from_recipe("paper")
    again = TrainConfig.from_dict({**config.to_dict(), "from_a_newer_version": 1})
    assert again == config


def test_every_option_lives_in_exactly_one_section():
    from nasfpn_cli.engine.config import SECTIONS
    from nasfpn_cli.settings import declared

    listed = [name for names in SECTIONS.values() for name in names]
    assert sorted(listed) == sorted(item.name for item, _ in declared(TrainConfig))


def test_stored_configs_are_sectioned_and_flat_ones_still_read():
    config = TrainConfig.from_recipe("paper", lr=0.04)
    stored = config.to_dict()
    assert stored["solver"]["lr"] == 0.04 and stored["model"]["backbone"] == "resnet50"
    assert TrainConfig.from_dict(stored) == config
    flat = {k: v for section in stored.values() for k, v in section.items()}
    assert TrainConfig.from_dict(flat) == config  # what versions before sections wrote


def test_model_options_start_from_and_are_checked_by_the_model_spec():
    from nasfpn_cli.modeling.spec import ModelSpec

    spec = TrainConfig.of(backbone="resnet50").model_spec("fpn", num_classes=80)
    assert spec == ModelSpec.create("fpn", num_classes=80)  # train adds no defaults of its own
    with pytest.raises(UsageError, match="--focal-alpha: focal_alpha must lie in"):
        TrainConfig.of(focal_alpha=2.0).validated()
    with pytest.raises(UsageError, match="--anchor-size: anchor_size must be a finite number > 0"):
        TrainConfig.of(anchor_size=0.0).validated()
    with pytest.raises(UsageError, match="box_loss: unknown box_loss 'iou'"):
        TrainConfig.of(model_kwargs={"box_loss": "iou"}).validated()
    assert TrainConfig.of(stack=12, model_kwargs={"exit_at": 9}).validated().model_spec(
        "nasfpn", 3).exit_at == 9


def test_train_help_quotes_the_defaults_of_the_config(cli, monkeypatch):
    import dataclasses

    from nasfpn_cli.commands import train as train_command

    assert "Epochs (default 12)." in " ".join(cli("train", "--help").stdout.split())
    changed = dataclasses.replace(train_command.DEFAULTS, epochs=7, scale_range=(0.5, 2.0))
    monkeypatch.setattr(train_command, "DEFAULTS", changed)
    assert (train_command.default("epochs"), train_command.default("scale_range"),
            train_command.default("lr")) == ("7", "0.5,2", "0.01")


def test_train_config_and_model_spec_share_no_field():
    """A model option is declared once, in ModelOptions: TrainConfig holds one (``model``) and
    ModelSpec inherits them. ``genotype`` is a file or bundled name in one, the parsed genotype
    in the other."""
    from dataclasses import fields

    from nasfpn_cli.modeling.spec import ModelOptions, ModelSpec

    assert {f.name for f in fields(TrainConfig)} & {f.name for f in fields(ModelSpec)} == \
        {"genotype"}
    assert isinstance(TrainConfig().model, ModelOptions) and issubclass(ModelSpec, ModelOptions)
    # every model option reaches the spec, and reads by its flat name
    config = TrainConfig.of(backbone="resnet10", stack=2, neck_norm="gn", exit_at=2,
                            anchor_size=2.0).validated()
    spec = config.model_spec("fpn", num_classes=3)
    assert (spec.backbone, spec.stack, spec.neck_norm, spec.exit_at, spec.anchor_size) == (
        "resnet10", 2, "gn", 2, 2.0)
    assert config.value("neck_norm") == "gn" and config.value("lr") == config.lr


def test_configs_older_versions_stored_still_read():
    """Before the model options were a part: dropblock as the keep probability beside
    dropblock_size, and model_kwargs for the spec fields without a flag."""
    from nasfpn_cli.modeling.spec import DropBlockSpec

    old = {"model": {"genotype": "fpn", "backbone": "resnet10", "stack": 2, "channels": 16,
                     "dropblock": 0.9, "dropblock_size": 5, "model_kwargs": {"exit_at": 1},
                     "focal_alpha": 0.3, "sync_bn": False},
           "solver": {"lr": 0.02}, "runtime": {"output_dir": "runs/a"}}
    config = TrainConfig.from_dict(old)
    assert config.model.dropblock == DropBlockSpec(block_size=5, keep_prob=0.9)
    assert (config.model.backbone, config.model.stack, config.model.exit_at,
            config.model.focal_alpha, config.lr) == ("resnet10", 2, 1, 0.3, 0.02)
    assert TrainConfig.from_dict(config.to_dict()) == config  # and the new form round-trips
    with pytest.raises(UsageError, match="--dropblock-size: .*odd"):
        TrainConfig.of(dropblock=0.9, dropblock_size=4)
