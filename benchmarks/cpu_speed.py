"""Which numerics train fastest on this CPU: fp32, channels_last, bf16 autocast, or both?

Prints the CPU's capabilities (native bf16 or not, torch's vector ISA, threads), then the
trainer's step (forward, anchor matching, focal and box losses, backward, clipping, SGD) in
each setting, timed side by side in one process: every repetition runs one step of each
setting in turn on the same batch (drawn beforehand, so data loading is not timed), each
setting on its own copy of the same initial weights. Medians and ratios to fp32, for

* proxy: the search's proxy model, ResNet-10 + NAS-FPN 3@32, 128 px, batch 8;
* r18: ResNet-18 + NAS-FPN 3@64, 256 px, batch 8.

``--profile SETTING`` runs one such trial (digits, seed 0) under cProfile and prints where its
time goes: data, network forward, losses, backward, optimizer, evaluation forward, decoding and
NMS, pycocotools (cProfile's overhead inflates the Python-heavy parts a little).

``--ap`` also runs the ``proxy`` recipe's whole trial (training at its epochs, then COCO AP on
the held-out split, as the search scores it) in each setting on the generated digits and
shapes, ``--seeds`` seeds each, trials interleaved; it prints AP mean ± half the seed range and
the seconds per trial.

    python benchmarks/cpu_speed.py [--steps 10] [--threads 1] [--models proxy,r18]
        [--settings fp32,channels_last,bf16,both,defaults] [--ap [--seeds 0,1]
        [--data digits,shapes]] [--profile both]
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nasfpn_cli.data.coco import CocoDetection, TrainTransform, build_dataloader  # noqa: E402
from nasfpn_cli.data.loader import endless_batches  # noqa: E402
from nasfpn_cli.data.synth import make_synthetic_dataset  # noqa: E402
from nasfpn_cli.engine import precision  # noqa: E402
from nasfpn_cli.engine.config import TrainConfig  # noqa: E402
from nasfpn_cli.engine import optim  # noqa: E402
from nasfpn_cli.engine.run import build_model  # noqa: E402
from nasfpn_cli.engine.schedule import LrSchedule, build_scheduler  # noqa: E402
from nasfpn_cli.engine.trainer import Trainer  # noqa: E402
from nasfpn_cli.genotype import load_genotype  # noqa: E402

# setting -> the TrainConfig fields it sets (bf16 forced on, to measure it on any CPU); "start"
# is fp32 as issue 19 found it (and 9910aa9's defaults were), with torch's per-tensor optimizer
# loop instead of the fused one; "defaults" is what train's defaults (--amp auto --channels-last
# auto) mean on this machine: "both" where bf16 is native, "fp32" elsewhere
SETTINGS: dict[str, dict[str, Any]] = {
    "start": {"amp": "off", "channels_last": "off"},
    "fp32": {"amp": "off", "channels_last": "off"},
    "channels_last": {"amp": "off", "channels_last": "on"},
    "bf16": {"amp": "on", "channels_last": "off"},
    "both": {"amp": "on", "channels_last": "on"},
    "defaults": {"amp": "auto", "channels_last": "auto"},
}
# model -> (label, TrainConfig fields)
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "proxy": ("proxy: ResNet-10 + NAS-FPN 3@32, 128 px, batch 8",
              dict(backbone="resnet10", stack=3, channels=32, image_size=128)),
    "r18": ("ResNet-18 + NAS-FPN 3@64, 256 px, batch 8",
            dict(backbone="resnet18", stack=3, channels=64, image_size=256)),
}
UNFUSED = {"start"}
WARMUP = 2
# --profile: part of a trial -> the (file suffix, function) whose cumulative time it is; "within"
# parts are subtracted from the part that contains them
PROFILE_PARTS: dict[str, tuple[str, str]] = {
    "data (decode, augment, collate)": ("torch/utils/data/dataloader.py", "__next__"),
    "training forward + losses": ("nasfpn_cli/modeling/detector.py", "losses"),
    "backward": ("torch/_tensor.py", "backward"),
    "optimizer step": ("torch/optim/optimizer.py", "_use_grad"),
    "gradient clipping": ("torch/nn/utils/clip_grad.py", "clip_grad_norm_"),
    "optimizer set-up (first trial: imports)": ("nasfpn_cli/engine/optim.py", "build_optimizer"),
    "evaluation": ("nasfpn_cli/engine/evaluation.py", "evaluate"),
}
PROFILE_WITHIN: dict[str, tuple[str, tuple[str, str]]] = {
    "  of which anchor matching": ("training forward + losses",
                                   ("nasfpn_cli/modeling/losses.py", "match")),
    "  of which focal + box losses": ("training forward + losses",
                                      ("nasfpn_cli/modeling/losses.py", "__call__")),
    "  of which decoding + NMS": ("evaluation", ("nasfpn_cli/modeling/postprocess.py", "__call__")),
    "  of which pycocotools": ("evaluation", ("nasfpn_cli/engine/evaluation.py",
                                              "coco_bbox_metrics")),
}


@contextlib.contextmanager
def optimizers_of(setting: str):
    """Inside, build_optimizer gives torch's per-tensor loop for the settings in UNFUSED."""
    saved = dict(optim.OPTIMIZER_FACTORIES)

    def unfused(factory):
        def build(groups, config):
            optimizer = factory(groups, config)
            for group in optimizer.param_groups:
                group.update(fused=None, foreach=False)
            return optimizer

        return build

    if setting in UNFUSED:
        optim.OPTIMIZER_FACTORIES.update({name: unfused(f) for name, f in saved.items()})
    try:
        yield
    finally:
        optim.OPTIMIZER_FACTORIES.update(saved)


def capabilities(threads: int) -> list[str]:
    """What decides the ranking: native bf16, the vector ISA torch uses, threads."""
    flags = sorted(precision.NATIVE_BF16_FLAGS & precision.cpu_flags())
    defaults = precision.describe(precision.autocast_dtype("auto", "cpu"),
                                  precision.uses_channels_last("auto", "cpu"))
    return [f"torch {torch.__version__}, vector ISA {torch.backends.cpu.get_cpu_capability()}, "
            f"{threads} torch thread(s)",
            f"native bf16: {'yes' if precision.native_bf16() else 'no'} "
            f"(cpu flags: {', '.join(flags) or 'none'}); --amp auto means "
            f"{precision.describe(precision.autocast_dtype('auto', 'cpu'), False)} here, and "
            f"the defaults (--amp auto --channels-last auto) {defaults}"]


def _trainer(setting: str, config: TrainConfig, initial: torch.nn.Module) -> Trainer:
    """A trainer over its own copy of ``initial``, laid out and autocast as ``config`` says."""
    model = copy.deepcopy(initial).to(memory_format=precision.memory_format(config.channels_last))
    model.train()
    with optimizers_of(setting):
        optimizer = optim.build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, LrSchedule("cosine", total_steps=10 ** 6))
    return Trainer(model, optimizer, scheduler, [], epochs=1, device=torch.device("cpu"),
                   amp=config.amp, channels_last=config.channels_last,
                   grad_clip=config.grad_clip)


def time_steps(model_fields: dict[str, Any], settings: list[str], steps: int,
               batch_size: int) -> dict[str, list[float]]:
    """Seconds of each setting's train steps, the settings taking turns on each batch."""
    base = TrainConfig.of(genotype="nasfpn", batch_size=batch_size, workers=0, warmup=0,
                       **model_fields).validated()
    with tempfile.TemporaryDirectory() as tmp:
        make_synthetic_dataset(tmp, num_images=4 * batch_size, image_size=base.image_size,
                               seed=0, val_fraction=0.0)
        dataset = CocoDetection(Path(tmp) / "annotations/instances_train2017.json",
                                Path(tmp) / "train2017",
                                TrainTransform(base.image_size, base.scale_range), seed=0)
        batches = endless_batches(build_dataloader(dataset, batch_size, shuffle=True, seed=0))
        torch.manual_seed(0)
        initial = build_model(base, load_genotype(base.genotype), dataset.num_classes)
        trainers = {name: _trainer(name, TrainConfig.of(**{**vars(base), **SETTINGS[name]}),
                                   initial)
                    for name in settings}
        times: dict[str, list[float]] = {name: [] for name in settings}
        for repetition in range(WARMUP + steps):
            images, targets = next(batches)
            for name, trainer in trainers.items():
                started = time.perf_counter()
                trainer.run_step(images, targets)
                if repetition >= WARMUP:
                    times[name].append(time.perf_counter() - started)
    return times


def ap_trials(settings: list[str], kinds: list[str], seeds: list[int],
              ) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """(setting, data) -> [(AP, seconds)] per seed: whole proxy trials as the search runs them."""
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            rewards = {name: _proxy_reward(name, kind, Path(tmp) / kind) for name in settings}
            for reward in rewards.values():
                reward.prepare()  # the data written once per kind, then read and cached
            for seed in seeds:
                for name, reward in rewards.items():
                    started = time.perf_counter()
                    with optimizers_of(name):
                        ap = reward(_candidate(seed))
                    results.setdefault((name, kind), []).append(
                        (ap, time.perf_counter() - started))
                    print(f"  {kind} seed {seed} {name}: AP {ap:.4f} "
                          f"({results[name, kind][-1][1]:.1f} s)", flush=True)
    return results


def _proxy_reward(setting: str, kind: str, folder: Path):
    """The search's proxy reward (COCO AP) in ``setting`` on generated ``kind`` data."""
    from nasfpn_cli.search.rewards.proxy import ProxyReward, ProxySettings

    return ProxyReward(ProxySettings(train=dict(SETTINGS[setting]), score="ap", synth_kind=kind),
                       folder)


def _candidate(seed: int):
    from nasfpn_cli.search.rewards import Candidate

    return Candidate(load_genotype("nasfpn"), decisions=None, hash="nasfpn", seed=seed)


def profile_trial(setting: str) -> list[str]:
    """One proxy trial under cProfile: seconds and share of each part of :data:`PROFILE_PARTS`."""
    import cProfile
    import pstats

    with tempfile.TemporaryDirectory() as tmp:
        reward = _proxy_reward(setting, "digits", Path(tmp))
        reward.prepare()
        profiler = cProfile.Profile()
        started = time.perf_counter()
        with optimizers_of(setting):
            profiler.runcall(reward, _candidate(0))
        total = time.perf_counter() - started
    stats = pstats.Stats(profiler).stats  # (file, line, name) -> (cc, nc, tt, ct, callers)

    def cumulative(where: tuple[str, str]) -> float:
        suffix, name = where
        return sum(value[3] for (file, _, function), value in stats.items()
                   if file.endswith(suffix) and function == name)

    parts = {part: cumulative(where) for part, where in PROFILE_PARTS.items()}
    parts["other (model build, hooks, glue)"] = total - sum(parts.values())
    lines = [f"one proxy trial ({setting}, digits, seed 0): {total:.1f} s under cProfile",
             "| part | seconds | share |", "|---|---|---|"]
    for part, seconds in parts.items():
        lines.append(f"| {part} | {seconds:.1f} | {seconds / total:.0%} |")
        for sub, (parent, where) in PROFILE_WITHIN.items():
            if parent == part:
                seconds = cumulative(where)
                lines.append(f"| {sub} | {seconds:.1f} | {seconds / total:.0%} |")
    return lines


def step_table(label: str, times: dict[str, list[float]]) -> list[str]:
    """A markdown row per model: median seconds of the first setting, ratios of the others."""
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = next(iter(times))
    cells = [f"{medians[name]:.3f} s" if name == base
             else f"{medians[name]:.3f} s ({medians[name] / medians[base]:.2f}x)" for name in times]
    return [f"| {label} | " + " | ".join(cells) + " |"]


def ap_table(results: dict[tuple[str, str], list[tuple[float, float]]], settings: list[str],
             kinds: list[str]) -> list[str]:
    """AP mean ± half the seed range, and seconds per trial, per setting and data."""
    lines = ["| setting | " + " | ".join(f"{kind} AP | {kind} s/trial" for kind in kinds) + " |",
             "|---|" + "---|---|" * len(kinds)]
    for name in settings:
        cells = []
        for kind in kinds:
            aps = [ap for ap, _ in results[name, kind]]
            seconds = statistics.mean(s for _, s in results[name, kind])
            cells += [f"{statistics.mean(aps):.4f} ± {(max(aps) - min(aps)) / 2:.4f}",
                      f"{seconds:.1f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps of each setting")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--models", default=",".join(MODELS), help="of: " + ", ".join(MODELS))
    parser.add_argument("--settings", default=",".join(SETTINGS),
                        help="of: " + ", ".join(SETTINGS) + " (the first: the ratios' base)")
    parser.add_argument("--ap", action="store_true",
                        help="also AP at equal epochs: whole proxy trials per setting")
    parser.add_argument("--seeds", default="0,1", help="--ap: seeds per setting and data")
    parser.add_argument("--data", default="digits,shapes", help="--ap: generated data kinds")
    parser.add_argument("--profile", choices=list(SETTINGS),
                        help="profile one proxy trial in this setting")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = args.settings.split(",")
    for line in capabilities(args.threads):
        print(line)
    print(f"\ntrain step, median of {args.steps} interleaved repetitions (ratio to "
          f"{settings[0]})\n")
    print("| model | " + " | ".join(settings) + " |")
    print("|---|" + "---|" * len(settings))
    for name in filter(None, args.models.split(",")):  # --models "": only --ap
        label, fields = MODELS[name]
        times = time_steps(fields, settings, args.steps, args.batch_size)
        print("\n".join(step_table(label, times)), flush=True)
    if args.ap:
        kinds = args.data.split(",")
        seeds = [int(seed) for seed in args.seeds.split(",")]
        print(f"\nproxy recipe trials ({TrainConfig.from_recipe('proxy').epochs} epochs, COCO AP "
              f"on the held-out split), seeds {args.seeds}, mean ± half range:")
        results = ap_trials(settings, kinds, seeds)
        print("\n" + "\n".join(ap_table(results, settings, kinds)))
    if args.profile:
        print("\n" + "\n".join(profile_trial(args.profile)))


if __name__ == "__main__":
    main()
