"""How fast does a detector learn from scratch on one CPU core?

Trains several *arms* (a recipe plus option overrides) side by side in one process on the
digits-on-photos set (``nasfpn data digits``: scikit-learn's handwritten digits, 10 classes),
one torch thread, data loaded in the process. Time is CPU time of the process
(``time.process_time``), so other programs on the machine barely change the figures; the arms
also take turns, each running a slice of ``--slice`` CPU seconds before the next, so what
noise remains hits all of them alike. Only training steps are timed (data loading included);
evaluations on the validation split (every ``1/--evals`` of the run) are not. Each arm's
schedule is fitted to the budget: with ``--seconds`` the steps an arm gets follow from its
measured step time (calibration steps on throwaway copies, the arms taking turns step by
step), with ``--epochs`` they are fixed.

Prints a table of AP and AP50 against training seconds, the images/s of each arm and, when
an arm labelled ``today`` is present, each arm's final AP over today's; writes
``OUT/learning_speed.json`` (every point) and ``OUT/learning_speed.png`` (AP against seconds).

    python benchmarks/learning_speed.py [--seconds 240 | --epochs 2] [--seeds 0,1]
        [--arm "today=default" --arm "small=small" --arm "img160=default image_size=160"]

An arm is ``LABEL=RECIPE [KEY=VALUE ...]``: RECIPE is ``default`` (the CPU defaults) or a name
of ``--recipe``; KEY a TrainConfig field (``model.KEY`` for a ``build_detector`` option), VALUE
JSON (``scale_range=[0.5,1.5]``) or a bare string.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nasfpn_cli.data.coco import build_dataloader  # noqa: E402
from nasfpn_cli.data.loader import endless_batches  # noqa: E402
from nasfpn_cli.data.digits import make_digits_dataset  # noqa: E402
from nasfpn_cli.engine.config import TrainConfig  # noqa: E402
from nasfpn_cli.engine.distributed import DistContext  # noqa: E402
from nasfpn_cli.engine.ema import ModelEma  # noqa: E402
from nasfpn_cli.engine.evaluation import evaluate  # noqa: E402
from nasfpn_cli.engine.optim import build_optimizer  # noqa: E402
from nasfpn_cli.engine.plotting import new_figure, save_figure  # noqa: E402
from nasfpn_cli.engine.schedule import LrSchedule, build_scheduler  # noqa: E402
from nasfpn_cli.engine.trainer import Trainer  # noqa: E402
from nasfpn_cli.engine.run import build_data, build_model, seed_everything  # noqa: E402
from nasfpn_cli.genotype import load_genotype  # noqa: E402

# "today": the CPU defaults as the issue ran them (ResNet-18 NAS-FPN 3@64, 256 px, SGD 0.01)
DEFAULT_ARMS = ("today=default stack=3 channels=64", "small=small")
CALIBRATION_STEPS = 5  # timed, after one untimed step


@dataclasses.dataclass
class ArmSpec:
    label: str
    recipe: str | None
    overrides: dict[str, Any]


def parse_arm(text: str) -> ArmSpec:
    """``LABEL=RECIPE [KEY=VALUE ...]`` (see the module docstring)."""
    head, *pairs = text.split()
    label, _, recipe = head.partition("=")
    if not label or not recipe:
        raise SystemExit(f"--arm {text!r}: expected LABEL=RECIPE [KEY=VALUE ...]")
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise SystemExit(f"--arm {text!r}: {pair!r} is not KEY=VALUE")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        if key.startswith("model."):
            overrides.setdefault("model_kwargs", {})[key[len("model."):]] = value
        else:
            overrides[key] = value
    return ArmSpec(label, None if recipe == "default" else recipe, overrides)


def parse_steps(text: str) -> list[tuple[str, int]]:
    """``today=121,small=399`` -> [("today", 121), ("small", 399)]."""
    pairs = []
    for item in filter(None, text.split(",")):
        label, _, count = item.partition("=")
        if not count.isdigit() or int(count) < 1:
            raise argparse.ArgumentTypeError(f"{item!r} is not LABEL=STEPS")
        pairs.append((label, int(count)))
    return pairs


class Arm:
    """One recipe's training run, advanced a slice at a time."""

    def __init__(self, spec: ArmSpec, data_dir: Path, seed: int, image_size: int | None):
        overrides = dict(spec.overrides)
        if image_size is not None:
            overrides.setdefault("image_size", image_size)
        self.spec = spec
        self.seed = seed
        self.config = TrainConfig.from_recipe(spec.recipe, data_dir=str(data_dir), workers=0,
                                              seed=seed, device="cpu",
                                              output_dir=tempfile.mkdtemp(), **overrides)
        self.data = build_data(self.config, DistContext())
        self.genotype = load_genotype(self.config.genotype)
        self.points: list[dict[str, Any]] = []
        self.train_seconds = 0.0
        self.images = 0
        self.trainer: Trainer | None = None

    def _build_trainer(self, total_steps: int) -> Trainer:
        config = self.config
        seed_everything(self.seed)
        model = build_model(config, self.genotype, len(self.data.label_to_category))
        loader = build_dataloader(self.data.train, config.batch_size, shuffle=True, workers=0,
                                  seed=config.seed)
        optimizer = build_optimizer(model, config)
        steps_per_epoch = len(loader)
        schedule = LrSchedule(config.schedule, total_steps=total_steps, warmup=config.warmup,
                              warmup_factor=config.warmup_factor,
                              milestones=tuple(m * steps_per_epoch
                                               for m in config.resolved_milestones()),
                              gamma=config.gamma)
        ema = ModelEma(model, config.ema_decay) if config.ema else None
        trainer = Trainer(model, optimizer, build_scheduler(optimizer, schedule), loader,
                          epochs=1,
                          device=torch.device("cpu"), amp=config.amp,
                          grad_clip=config.grad_clip, ema=ema)
        trainer.model.train()
        trainer.batches = endless_batches(loader)  # type: ignore[attr-defined]
        return trainer

    def steps_per_epoch(self) -> int:
        return len(self.data.train) // self.config.batch_size

    def calibration_run(self):
        """A throwaway copy's steps; yields each step's CPU seconds."""
        trainer = self._build_trainer(total_steps=1000)
        while True:
            started = time.process_time()
            images, targets = next(trainer.batches)  # type: ignore[attr-defined]
            trainer.run_step(images, targets)
            yield time.process_time() - started

    def start(self, total_steps: int, evals: int) -> None:
        self.total_steps = max(1, total_steps)
        self.eval_steps = sorted({max(1, round(self.total_steps * k / evals))
                                  for k in range(1, evals + 1)})
        self.trainer = self._build_trainer(self.total_steps)

    @property
    def done(self) -> bool:
        return self.trainer is not None and self.trainer.step >= self.total_steps

    def run_slice(self, seconds: float) -> None:
        """Train until ``seconds`` passed or the next evaluation point; evaluate there."""
        trainer = self.trainer
        assert trainer is not None
        until = time.process_time() + seconds
        while not self.done and time.process_time() < until:
            started = time.process_time()
            images, targets = next(trainer.batches)  # type: ignore[attr-defined]
            trainer.run_step(images, targets)
            trainer.step += 1
            self.train_seconds += time.process_time() - started
            self.images += int(images.shape[0])
            if trainer.step in self.eval_steps:
                self._evaluate()
                return

    def _evaluate(self) -> None:
        trainer = self.trainer
        assert trainer is not None and self.data.val is not None
        metrics = evaluate(trainer.eval_module, self.data.val,
                           batch_size=self.config.eval_batch_size or self.config.batch_size,
                           device="cpu")
        trainer.model.train()
        self.points.append({"step": trainer.step, "seconds": round(self.train_seconds, 2),
                            "epochs": round(trainer.step / self.steps_per_epoch(), 3),
                            "AP": metrics["AP"], "AP50": metrics["AP50"],
                            "AR100": metrics["AR100"]})
        point = self.points[-1]
        print(f"    {self.spec.label} seed {self.seed}: step {point['step']}, "
              f"{point['seconds']:.0f} s, AP {point['AP']:.3f}, AP50 {point['AP50']:.3f}",
              flush=True)

    def images_per_second(self) -> float:
        return self.images / max(self.train_seconds, 1e-9)


def calibrate(arms: list[Arm]) -> dict[str, float]:
    """Median CPU seconds per step of every arm, the arms taking turns step by step (the first
    step of each, which sets up caches, is not counted)."""
    runs = {arm.spec.label: arm.calibration_run() for arm in arms}
    times: dict[str, list[float]] = {label: [] for label in runs}
    for index in range(CALIBRATION_STEPS + 1):
        for label, run in runs.items():
            seconds = next(run)
            if index:
                times[label].append(seconds)
    return {label: statistics.median(values) for label, values in times.items()}


def run_seed(specs: list[ArmSpec], data_dir: Path, seed: int, args) -> list[Arm]:
    arms = [Arm(spec, data_dir, seed, args.image_size) for spec in specs]
    fixed = dict(args.steps)
    to_calibrate = [arm for arm in arms if arm.spec.label not in fixed]
    per_step = calibrate(to_calibrate) if args.epochs is None and to_calibrate else {}
    for arm in arms:
        if arm.spec.label in fixed:
            total = fixed[arm.spec.label]
        elif args.epochs is not None:
            total = args.epochs * arm.steps_per_epoch()
        else:
            total = int(args.seconds / per_step[arm.spec.label])
            print(f"  seed {seed} {arm.spec.label}: {per_step[arm.spec.label]:.3f} s/step -> "
                  f"{total} steps ({total / arm.steps_per_epoch():.2f} epochs)", flush=True)
        arm.start(total, args.evals)
    while not all(arm.done for arm in arms):
        for arm in arms:
            if not arm.done:
                arm.run_slice(args.slice)
    for arm in arms:
        last = arm.points[-1]
        print(f"  seed {seed} {arm.spec.label}: AP {last['AP']:.3f} AP50 {last['AP50']:.3f} "
              f"after {last['seconds']:.0f} s ({arm.images_per_second():.2f} img/s)", flush=True)
    return arms


def plot(results: dict[str, list[dict]], path: Path, title: str) -> Path:
    fig, ax = new_figure()
    for index, (label, runs) in enumerate(results.items()):
        colour = f"C{index}"
        for run_index, run in enumerate(runs):
            points = run["points"]
            ax.plot([p["seconds"] for p in points], [p["AP"] for p in points], marker="o",
                    color=colour, alpha=1.0 if run_index == 0 else 0.5,
                    label=f"{label} AP" if run_index == 0 else None)
            ax.plot([p["seconds"] for p in points], [p["AP50"] for p in points],
                    linestyle="--", color=colour, alpha=0.6 if run_index == 0 else 0.3,
                    label=f"{label} AP50" if run_index == 0 else None)
    ax.set(xlabel="training seconds (1 CPU thread)", ylabel="COCO bbox AP (fraction)",
           title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)


def summarise(results: dict[str, list[dict]]) -> None:
    print(f"\n{'arm':<16}{'seconds':>9}{'AP':>8}{'AP50':>8}{'img/s':>8}   per seed AP")
    finals: dict[str, float] = {}
    for label, runs in results.items():
        aps = [run["points"][-1]["AP"] for run in runs]
        ap50 = [run["points"][-1]["AP50"] for run in runs]
        seconds = statistics.mean(run["points"][-1]["seconds"] for run in runs)
        speed = statistics.mean(run["images_per_s"] for run in runs)
        finals[label] = statistics.mean(aps)
        spread = f" ± {statistics.stdev(aps):.3f}" if len(aps) > 1 else ""
        print(f"{label:<16}{seconds:>9.0f}{finals[label]:>8.3f}{statistics.mean(ap50):>8.3f}"
              f"{speed:>8.2f}   {', '.join(f'{a:.3f}' for a in aps)}{spread}")
    if "today" in finals and finals["today"] > 0:
        for label, ap in finals.items():
            if label != "today":
                print(f"AP ratio {label} / today: {ap / finals['today']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--seconds", type=float, default=240.0,
                        help="training seconds per arm (steps fitted per arm)")
    budget.add_argument("--epochs", type=int, help="fixed epochs per arm instead of seconds")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    parser.add_argument("--steps", type=parse_steps, default=[], metavar="LABEL=N,...",
                        help="fixed step counts for these arms instead of calibrating (to rerun "
                             "the schedules an earlier calibration fitted, on a busier machine)")
    parser.add_argument("--arm", action="append", help="LABEL=RECIPE [KEY=VALUE ...]")
    parser.add_argument("--image-size", type=int, default=None,
                        help="training size for every arm (default: each arm's own)")
    parser.add_argument("--data-size", type=int, default=160, help="digits image size")
    parser.add_argument("--num-train", type=int, default=600)
    parser.add_argument("--num-val", type=int, default=200)
    parser.add_argument("--evals", type=int, default=4, help="evaluations per arm")
    parser.add_argument("--slice", type=float, default=10.0, help="seconds per turn")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("-o", "--out", type=Path, default=Path("out/learning_speed"))
    args = parser.parse_args()
    if args.epochs is not None:
        args.seconds = None
    torch.set_num_threads(args.threads)
    specs = [parse_arm(text) for text in (args.arm or DEFAULT_ARMS)]
    seeds = [int(s) for s in args.seeds.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    data_dir = args.out / "digits"
    make_digits_dataset(data_dir, num_train=args.num_train, num_val=args.num_val,
                        image_size=args.data_size, seed=0)
    budget_text = f"{args.seconds:.0f} s" if args.seconds else f"{args.epochs} epochs"
    print(f"digits: {args.num_train} train / {args.num_val} val images of {args.data_size} px; "
          f"{budget_text} per arm, {args.threads} thread(s), seeds {seeds}", flush=True)
    results: dict[str, list[dict]] = {spec.label: [] for spec in specs}
    for seed in seeds:
        for arm in run_seed(specs, data_dir, seed, args):
            results[arm.spec.label].append({
                "seed": seed, "recipe": arm.spec.recipe, "overrides": arm.spec.overrides,
                "images_per_s": arm.images_per_second(), "points": arm.points})
    summarise(results)
    record = {"budget": {"seconds": args.seconds, "epochs": args.epochs},
              "threads": args.threads, "data": {"num_train": args.num_train,
                                                "num_val": args.num_val,
                                                "image_size": args.data_size},
              "arms": results}
    (args.out / "learning_speed.json").write_text(json.dumps(record, indent=1) + "\n")
    png = plot(results, args.out / "learning_speed.png",
               f"digits, {budget_text} per arm, {args.threads} thread(s)")
    print(f"wrote {args.out / 'learning_speed.json'} and {png}")


if __name__ == "__main__":
    main()
