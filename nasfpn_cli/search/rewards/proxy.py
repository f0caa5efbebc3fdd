"""``proxy`` (the default reward): the paper's proxy task, scaled down to the machine at hand.

The paper trained every sampled pyramid briefly (ResNet-10, 3 stacks, 512 px, 10 epochs) and
used its AP on a held-out split as the reward. Here the same happens through the training engine
(:func:`nasfpn_cli.engine.train`), with every knob a ``--proxy-*`` option and smaller defaults.
The data is a COCO-format train/validation pair: by default a synthetic dataset written once in
``OUT/proxy_data``, or a real one (``--proxy-train-ann/--proxy-train-images/--proxy-val-ann/
--proxy-val-images``). The reward is the validation AP (0-1) after the last epoch.
"""
from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import DatasetError, SearchError
from ..space import SearchSpace
from . import Candidate, register_reward

DATA_PATH_OPTIONS = ("train_ann", "train_images", "val_ann", "val_images")


@dataclass(frozen=True)
class ProxySettings:
    """The proxy task; each field is the ``--proxy-<field>`` option."""

    backbone: str = "resnet10"
    stack: int = 3
    channels: int = 32
    image_size: int = 96
    epochs: int = 4
    batch_size: int = 8
    lr: float = 0.02
    warmup: int = 10  # optimizer steps
    device: str = "auto"
    # a real dataset (all four paths), or None: synthetic data in OUT/proxy_data
    train_ann: str | None = None
    train_images: str | None = None
    val_ann: str | None = None
    val_images: str | None = None
    # the synthetic dataset
    synth_images: int = 160
    synth_val_fraction: float = 0.25
    synth_seed: int = 0

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "ProxySettings":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in options.items()
                      if key in known and value is not None})

    @property
    def uses_real_data(self) -> bool:
        return any(getattr(self, name) for name in DATA_PATH_OPTIONS)


class ProxyReward:
    """Trains a small detector with the candidate's pyramid and returns its validation AP."""

    def __init__(self, settings: ProxySettings, output_dir: Path):
        self.settings = settings
        self.synthetic_dir = output_dir / "proxy_data"

    def data_paths(self) -> dict[str, str]:
        settings = self.settings
        if settings.uses_real_data:
            missing = [f"--proxy-{name.replace('_', '-')}" for name in DATA_PATH_OPTIONS
                       if not getattr(settings, name)]
            if missing:
                raise SearchError("real proxy data needs all four paths; missing "
                                  + ", ".join(missing))
            return {name: str(getattr(settings, name)) for name in DATA_PATH_OPTIONS}
        root = self.synthetic_dir
        return {"train_ann": str(root / "annotations" / "instances_train2017.json"),
                "train_images": str(root / "train2017"),
                "val_ann": str(root / "annotations" / "instances_val2017.json"),
                "val_images": str(root / "val2017")}

    def prepare(self) -> None:
        """Write the synthetic dataset once (kept for later searches), then check the data."""
        from ...data.coco import resolve_data_paths

        settings = self.settings
        paths = self.data_paths()
        if not settings.uses_real_data and not Path(paths["val_ann"]).is_file():
            from ...data.synth import make_synthetic_dataset

            make_synthetic_dataset(self.synthetic_dir, num_images=settings.synth_images,
                                   image_size=settings.image_size, seed=settings.synth_seed,
                                   val_fraction=settings.synth_val_fraction)
        try:
            resolve_data_paths(None, paths["train_ann"], paths["train_images"], paths["val_ann"],
                               paths["val_images"])
        except DatasetError as exc:
            raise SearchError(f"proxy data: {exc}", hint=exc.hint) from exc

    def __call__(self, candidate: Candidate) -> float:
        with tempfile.TemporaryDirectory(prefix="nasfpn-proxy-") as scratch:
            work = Path(scratch)
            genotype_file = work / "genotype.txt"
            genotype_file.write_text(candidate.genotype.source)
            return self._train(genotype_file, work / "run", candidate.seed)

    def _train(self, genotype_file: Path, run_dir: Path, seed: int) -> float:
        from ...engine import TrainConfig, train

        settings = self.settings
        config = TrainConfig(
            genotype=str(genotype_file), output_dir=str(run_dir), **self.data_paths(),
            backbone=settings.backbone, stack=settings.stack, channels=settings.channels,
            image_size=settings.image_size, epochs=settings.epochs,
            batch_size=settings.batch_size, lr=settings.lr, warmup=settings.warmup, workers=0,
            seed=seed, device=settings.device, eval_every=settings.epochs,
            log_every=10**9)
        result = train(config, progress=False)
        return max(0.0, float(result.best_ap))


@register_reward("proxy")
def proxy_reward(argument: str | None, space: SearchSpace, options: dict[str, Any]) -> ProxyReward:
    if argument:
        raise SearchError(f"--reward proxy takes no argument (got proxy:{argument}); "
                          "set it up with the --proxy-* options")
    return ProxyReward(ProxySettings.from_options(options), Path(options["output_dir"]))
