"""How well does the one-shot supernet rank pyramids, and how many does it score per CPU-hour?

Trains (or reuses, or resumes) the supernet of ``--reward supernet`` on the proxy's data in
``--out`` (by default generated digits, 300 images, 128 px, ResNet-10 3@32; ``--proxy-set
FIELD=VALUE`` sets a ``--proxy-*`` setting by its field name, e.g. ``synth_kind=shapes``), then
scores with it:

* the reference architectures recorded in calibration folders (``--calibration``, default the
  two committed ones whose reference schedule is the same: 12 epochs on 600 images, COCO AP),
  keeping those that lie in the search space; their reference AP (mean over seeds) is the truth.
  Every folder must have generated its proxy data as the supernet's (kind, images, seed, model)
  and all must share one reference schedule; otherwise the benchmark refuses to run;
* up to ``--trials`` distinct architectures of a recorded search (``--search``), whose
  short-training proxy AP50 (one seed) is the cheap score the supernet would replace.

Each candidate is scored as AP50 and as 1 / (1 + validation loss), with the path's norm
statistics re-estimated on ``--recalibrate`` training batches, and as AP50 without it (the
naive supernet). Training-free scores (synflow, NASWOT, grad-norm) on the untrained stand-alone
detector, params and neck MACs go in the same table (every reference architecture, in the space
or not). Prints a markdown table of Kendall's tau (90% bootstrap interval), Spearman's rho and
top-3 overlap, with seconds per candidate, and writes everything to ``OUT/fidelity.json``.
The calibration's own recorded proxy score (mean over its seeds) is ranked too, on the
architectures in the space. One torch thread throughout.

``OUT/proxy.json`` records the proxy settings the data in ``OUT/proxy_data`` was written with;
an ``--out`` written with other settings is refused (the proxy reuses whatever data is there).

    python benchmarks/supernet_fidelity.py --out out/supernet-bench [--steps 1000] [--seed 0]
        [--norm-scope level] [--recalibrate 4] [--trials 40]
    python benchmarks/supernet_fidelity.py --out OUT --rescore --calibration FOLDER...
    python benchmarks/supernet_fidelity.py --out out/supernet-shapes --proxy-set synth_kind=shapes \
        --calibration docs/runs/calibration-curves-shapes --trials 0

``--space anchored`` trains the supernet of the anchored space (5 to 10 cells of 2 or 3 inputs,
``wsum`` among its ops), where FPN, PANet and BiFPN are points too (``--norm-scope`` and
``--sampling`` default to that space's own). Every score is also compared with the
calibration's recorded proxy *paired* (tau minus the proxy's tau, the same architectures drawn
in every resample), and ``--compare OUT2`` compares this run's supernet scores with another
run's (e.g. the paper space's supernet) on the architectures both scored:

    python benchmarks/supernet_fidelity.py --out out/sn-k16-shapes-anchored --space anchored \
        --proxy-set synth_kind=shapes --calibration docs/runs/calibration-k16-shapes --trials 0 \
        --compare docs/runs/supernet-fidelity-k16-shapes-seed0
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from nasfpn_cli.data.coco import build_dataloader  # noqa: E402
from nasfpn_cli.errors import SearchError, UsageError  # noqa: E402
from nasfpn_cli.genotype import parse_genotype  # noqa: E402
from nasfpn_cli.search.fidelity import compare_fidelity, measure_fidelity  # noqa: E402
from nasfpn_cli.search.rewards import Candidate, RewardSpec, build_reward  # noqa: E402
from nasfpn_cli.search.proxy_task import SCORES, ProxySettings  # noqa: E402
from nasfpn_cli.search.spaces import SPACE_KINDS, build_space  # noqa: E402
from nasfpn_cli.search.store import CalibrationStore, SearchStore  # noqa: E402
from nasfpn_cli.search.supernet.model import supernet_neck  # noqa: E402
from nasfpn_cli.settings import assigned_values, parse_assignment  # noqa: E402
from nasfpn_cli.utils import read_jsonl  # noqa: E402

RUNS = Path(__file__).resolve().parents[1] / "docs" / "runs"


# what decides the proxy's generated data and model: a calibration's proxy must match these
DATA_FIELDS = ("synth_kind", "synth_images", "synth_val_fraction", "synth_seed", "backbone",
               "stack", "channels", "image_size")
# what decides the reference's truth: every calibration folder must share these
REFERENCE_FIELDS = DATA_FIELDS + ("epochs", "batch_size", "lr", "warmup", "score", "stop_epoch",
                                  "extrapolate")


DEFAULTS = {"stop_epoch": None, "extrapolate": False}  # of files written before these existed


def check_calibrations(folders: list[Path], proxy: dict[str, Any]) -> dict[str, Any]:
    """The reference schedule the folders share; SystemExit naming a folder whose generated
    proxy data differs from the supernet's (``proxy``) or whose reference differs."""
    reference: dict[str, Any] | None = None
    for folder in folders:
        settings = json.loads(CalibrationStore(folder).result.read_text())["settings"]
        own = {k: v for k, v in settings["proxy"].items() if k in DATA_FIELDS}
        if not settings["proxy"].get("train_ann"):  # generated data: it must be the supernet's
            wrong = [f"{k}: {own.get(k)!r} there, {proxy[k]!r} here" for k in DATA_FIELDS
                     if own.get(k) != proxy[k]]
            if wrong:
                sys.exit(f"{folder}: its proxy data is not the supernet's ({'; '.join(wrong)});"
                         " pass --proxy-set FIELD=VALUE to match it")
        elif proxy["train_ann"] is None and own.get("synth_kind", "digits") != proxy["synth_kind"]:
            sys.exit(f"{folder}: its proxy used its own data files; only generated "
                     f"{proxy['synth_kind']} data is compared here")
        ours = {k: settings["reference"].get(k, DEFAULTS.get(k)) for k in REFERENCE_FIELDS}
        if reference is not None and ours != reference:
            wrong = [f"{k}: {ours[k]!r} vs {reference[k]!r}" for k in REFERENCE_FIELDS
                     if ours[k] != reference[k]]
            sys.exit(f"{folder}: another reference schedule than {folders[0]} "
                     f"({'; '.join(wrong)})")
        reference = ours
    return reference or {}


def check_out(out: Path, proxy: dict[str, Any]) -> None:
    """Refuse an ``--out`` whose proxy data was written with other settings; record them."""
    record = out / "proxy.json"
    wanted = json.loads(json.dumps(proxy, default=str))
    if record.is_file():
        stored = json.loads(record.read_text())
        wrong = [f"{k}: {stored.get(k)!r} there, {wanted.get(k)!r} here"
                 for k in sorted(set(stored) | set(wanted)) if stored.get(k) != wanted.get(k)]
        if wrong:
            sys.exit(f"{out}: written for other proxy settings ({'; '.join(wrong)}); "
                     "use another --out")
    elif SearchStore(out).proxy_data.exists() or SearchStore(out).supernet.exists():
        sys.exit(f"{out}: holds proxy data or a supernet of unknown settings (no proxy.json); "
                 "use another --out")
    out.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(wanted, indent=1, sort_keys=True))


def reference_scores(folders: list[Path]
                     ) -> dict[str, tuple[str, list[float], int, list[float]]]:
    """name -> (genotype text, reference scores over all seeds, neck MACs, recorded proxy
    scores over all seeds), pooled by name."""
    found: dict[str, tuple[str, list[float], int, list[float]]] = {}
    for folder in folders:
        for arch in json.loads(CalibrationStore(folder).result.read_text())["architectures"]:
            name = arch["name"]
            if name in found:
                found[name][1].extend(arch["scores"]["reference"])
                found[name][3].extend(arch["scores"]["proxy"])
            else:
                found[name] = (arch["genotype"], list(arch["scores"]["reference"]),
                               int(arch["neck_macs"]), list(arch["scores"]["proxy"]))
    return found


def search_trials(path: Path, limit: int) -> list[tuple[str, float]]:
    """(genotype text, proxy reward) of the first ``limit`` distinct architectures."""
    seen: dict[str, tuple[str, float]] = {}
    for record in read_jsonl(path):
        if record.get("error") or record.get("cached") or record["hash"] in seen:
            continue
        seen[record["hash"]] = (record["genotype"], float(record["reward"]))
    return list(seen.values())[:limit]


# -- training-free scores on the untrained stand-alone detector -------------------------------

def synflow(detector, images, targets) -> float:
    """sum |theta * dR/dtheta| with R the summed outputs for an all-ones input, weights made
    positive (Tanaka et al. 2020), in float64 with norms in eval mode."""
    model = detector.network.double().eval()
    signs = {name: p.data.sign() for name, p in model.named_parameters()}
    for p in model.parameters():
        p.data.abs_()
    model.zero_grad()
    cls, box = model(torch.ones_like(images[:1], dtype=torch.float64))
    (sum(t.sum() for t in cls) + sum(t.sum() for t in box)).backward()
    score = sum(float((p.data * p.grad).abs().sum()) for p in model.parameters()
                if p.grad is not None)
    for name, p in model.named_parameters():
        p.data.mul_(signs[name])
    model.float()
    return float(np.log(score + 1e-300))


def naswot(detector, images, targets) -> float:
    """log det of the Hamming-similarity kernel of the cells' ReLU patterns over a batch
    (Mellor et al. 2021); the cells' ReLUs are the inputs of their convs."""
    codes: list[torch.Tensor] = []
    hooks = [cell.conv.register_forward_pre_hook(
        lambda module, args: codes.append((args[0] > 0).flatten(1).double()))
        for stack in detector.network.neck.stacks for cell in stack.cells]
    with torch.no_grad():
        detector.eval().network(images)
    for hook in hooks:
        hook.remove()
    c = torch.cat(codes, dim=1)
    kernel = c @ c.T + (1 - c) @ (1 - c).T
    return float(torch.slogdet(kernel).logabsdet)


def grad_norm(detector, images, targets) -> float:
    """Summed L2 norms of the loss gradients of one training batch (Abdelfattah et al. 2021)."""
    detector.train().zero_grad()
    detector.losses(images, targets)["loss"].backward()
    return float(sum(float(p.grad.norm()) for p in detector.parameters() if p.grad is not None))


TRAINING_FREE: dict[str, Callable[[Any, torch.Tensor, list], float]] = {
    "synflow": synflow, "naswot": naswot, "grad_norm": grad_norm}


def training_free_scores(reward, genotype, images, targets) -> dict[str, float]:
    from nasfpn_cli.engine.run import build_model, seed_everything

    scores = {}
    for name, score in TRAINING_FREE.items():
        seed_everything(0)
        detector = build_model(reward.task.settings.config, genotype,
                               len(reward.task.data().label_to_category))
        start = time.perf_counter()
        scores[name] = score(detector, images, targets)
        scores[f"{name} seconds"] = time.perf_counter() - start
    scores["params"] = float(sum(p.numel() for p in detector.network.neck.parameters()))
    return scores


# -- supernet scores ---------------------------------------------------------------------------

def supernet_scores(reward, genotype, pristine: dict) -> dict[str, float]:
    """AP50 and inverse validation loss after recalibration, and AP50 without (the norms as
    training left them, restored from ``pristine``), with the seconds each took."""
    detector = reward._supernet()
    config, val = reward._run.config, reward.task.data().val
    results: dict[str, float] = {}
    start = time.perf_counter()
    results["supernet ap50"] = reward.score(Candidate(genotype, (), "", 0))
    results["supernet ap50 seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    results["supernet loss"] = float(SCORES["loss"](detector, val, config))
    results["supernet loss seconds"] = time.perf_counter() - start  # + recalibration (in ap50)
    detector.load_state_dict(pristine)
    supernet_neck(detector).use(genotype)
    start = time.perf_counter()
    results["naive ap50"] = float(SCORES["ap50"](detector.eval(), val, config))
    results["naive ap50 seconds"] = time.perf_counter() - start
    return results


def table(rows: dict[str, dict[str, float]], truth: dict[str, np.ndarray], columns: list[str],
          label: str) -> list[dict[str, Any]]:
    names = sorted(truth)
    lines = []
    for column in columns:
        have = [n for n in names if column in rows[n]]
        if len(have) < 3:
            continue
        ours = np.array([[rows[n][column]] for n in have])
        width = min(len(truth[n]) for n in have)  # seeds every architecture has
        fidelity = measure_fidelity(ours, np.array([truth[n][:width] for n in have]), top_k=3)
        seconds = [rows[n].get(f"{column} seconds") for n in have]
        seconds = [s for s in seconds if s is not None]
        lines.append({"against": label, "score": column, "n": len(have),
                      "kendall_tau": fidelity.kendall_tau.text(),
                      "spearman_rho": fidelity.spearman_rho.text(),
                      "top3": fidelity.top_k_overlap,
                      "seconds": float(np.mean(seconds)) if seconds else None})
    return lines


COLUMNS = ["supernet ap50", "supernet loss", "naive ap50", "recorded proxy", "synflow", "naswot",
           "grad_norm", "params", "neck MACs"]
SUPERNET_COLUMNS = ["supernet loss", "supernet ap50", "naive ap50"]


def paired(rows: dict[str, dict[str, float]], truth: dict[str, np.ndarray],
           other: dict[str, dict[str, float]], pairs: list[tuple[str, str]], label: str
           ) -> list[dict[str, Any]]:
    """Per (column, other column): tau of ``rows[column]`` minus tau of ``other[other
    column]`` against ``truth``, on the architectures both have, with a paired bootstrap
    interval (:func:`compare_fidelity`), and each side's own tau on those architectures."""
    lines = []
    for column, baseline in pairs:
        names = sorted(n for n in truth if column in rows.get(n, {})
                       and baseline in other.get(n, {}))
        if len(names) < 3:
            continue
        width = min(len(truth[n]) for n in names)
        reference = np.array([truth[n][:width] for n in names])
        first = np.array([[rows[n][column]] for n in names])
        second = np.array([[other[n][baseline]] for n in names])
        lines.append({"against": label, "score": column, "minus": baseline, "n": len(names),
                      "kendall_tau": measure_fidelity(first, reference).kendall_tau.text(),
                      "other_kendall_tau": measure_fidelity(second, reference).kendall_tau.text(),
                      "difference": compare_fidelity(first, second, reference).text(),
                      "architectures": names})
    return lines


def print_paired(lines: list[dict[str, Any]], title: str) -> None:
    if not lines:
        return
    print(f"\n{title}\n")
    print("| score | minus | n | tau | tau of the other | difference (paired) [90%] |")
    print("|---|---|---|---|---|---|")
    for line in lines:
        print(f"| {line['score']} | {line['minus']} | {line['n']} | {line['kendall_tau']} | "
              f"{line['other_kendall_tau']} | {line['difference']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/supernet-bench"))
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--space", choices=SPACE_KINDS, default="paper",
                        help="The supernet's search space (anchored: FPN, PANet, BiFPN are "
                             "points too)")
    parser.add_argument("--norm-scope", default=None,
                        help="The supernet's norm scope (default: the space's own)")
    parser.add_argument("--sampling", default=None,
                        help="The anchored supernet's training paths (default: anchors)")
    parser.add_argument("--split", default=None,
                        help="The anchored supernet's sub-supernets: none, or cells (one per "
                             "number of cells, few-shot); default none")
    parser.add_argument("--compare", type=Path, default=None, metavar="OUT2",
                        help="Another run's folder (fidelity.json): its supernet scores against "
                             "this run's, paired, on the architectures both scored")
    parser.add_argument("--recalibrate", type=int, default=4)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--calibration", type=Path, nargs="*",
                        default=[RUNS / "calibration-default", RUNS / "search-small"])
    parser.add_argument("--search", type=Path, default=SearchStore(RUNS / "search-small").trials)
    parser.add_argument("--proxy-set", action="append", default=[], metavar="FIELD=VALUE",
                        help="A --proxy-* setting by its ProxySettings field name "
                             "(repeatable), e.g. synth_kind=shapes")
    parser.add_argument("--rescore", action="store_true",
                        help="Only print the reference table again from OUT/fidelity.json, "
                             "against --calibration (a subset of the run's folders)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.rescore:
        return rescore(args.out, args.calibration)
    space = build_space(args.space, None)
    try:
        options = assigned_values(ProxySettings, [parse_assignment(text)
                                                  for text in args.proxy_set], "--proxy-set")
        proxy_settings = ProxySettings.from_options(options).to_dict()  # checked as declared
    except (ValueError, UsageError, SearchError) as exc:
        parser.error(f"--proxy-set: {exc}")
    reference_schedule = check_calibrations(args.calibration, proxy_settings)
    check_out(args.out, proxy_settings)
    argument = (f"steps={args.steps},seed={args.seed},"
                f"recalibrate={args.recalibrate},score=ap50")  # "supernet ap50", whatever the
    # reward's default score (the loss is measured beside it)
    for name in ("norm_scope", "sampling", "split"):
        if getattr(args, name) is not None:
            argument += f",{name}={getattr(args, name)}"
    reward = build_reward(RewardSpec("supernet", argument, options), space, args.out)
    start = time.perf_counter()
    reward.prepare()
    prepare_seconds = time.perf_counter() - start
    log = read_jsonl(reward.path.with_name(reward.path.stem + "-training") / "metrics.jsonl")
    detector = reward._supernet()
    pristine = {k: v.clone() for k, v in detector.state_dict().items()}
    images, targets = next(iter(build_dataloader(reward.task.data().train, 8, shuffle=False)))

    rows: dict[str, dict[str, float]] = defaultdict(dict)
    reference: dict[str, np.ndarray] = {}
    proxy: dict[str, np.ndarray] = {}
    for name, (text, scores, macs, recorded) in reference_scores(args.calibration).items():
        genotype = parse_genotype(text, f"<{name}>")
        reference[name] = np.array(scores)
        rows[name].update(training_free_scores(reward, genotype, images, targets))
        rows[name]["neck MACs"] = float(macs)  # more MACs ranked higher
        try:
            rows[name].update(supernet_scores(reward, genotype, pristine))
            rows[name]["recorded proxy"] = float(np.mean(recorded))  # on the same 8 (or n)
        except SearchError:
            pass  # outside the space: the supernet holds no path for it
        print(name, {k: round(v, 4) for k, v in rows[name].items()}, flush=True)
    for index, (text, score) in enumerate(search_trials(args.search, args.trials)):
        name = f"trial{index}"
        proxy[name] = np.array([score])
        rows[name].update(supernet_scores(reward, parse_genotype(text, f"<{name}>"), pristine))
    columns = COLUMNS
    lines = table(rows, reference, columns, "reference AP")
    lines += table(rows, proxy, columns[:3], "proxy AP50 (search trials)")
    against_proxy = paired(rows, reference, rows,
                           [(c, "recorded proxy") for c in SUPERNET_COLUMNS], "reference AP")
    compared: list[dict[str, Any]] = []
    if args.compare is not None:
        other = json.loads((args.compare / "fidelity.json").read_text())
        compared = paired(rows, reference, other["rows"], [(c, c) for c in SUPERNET_COLUMNS],
                          "reference AP")
        for line in compared:
            line["minus"] = f"{line['minus']} of {args.compare.name}"
    train_seconds = (log[-1]["time"] - log[0]["time"]) if len(log) > 1 else prepare_seconds
    per_candidate = float(np.mean([rows[n]["supernet ap50 seconds"] for n in rows
                                   if "supernet ap50 seconds" in rows[n]]))
    summary = {"proxy": proxy_settings, "calibration": [str(p) for p in args.calibration],
               "reference": reference_schedule,
               "space": space.to_dict(), "steps": args.steps, "seed": args.seed,
               "norm_scope": reward._run.norm_scope, "sampling": reward._run.sampling,
               "split": reward._run.split,
               "recalibrate": args.recalibrate, "prepare_seconds": prepare_seconds,
               "training_seconds_logged": train_seconds,
               "seconds_per_candidate": per_candidate,
               "candidates_per_cpu_hour": 3600 / per_candidate, "table": lines,
               "paired_with_proxy": against_proxy, "compared": compared,
               "compared_with": str(args.compare) if args.compare else None,
               "rows": rows, "final_loss": log[-1]["loss"] if log else None}
    (args.out / "fidelity.json").write_text(json.dumps(summary, indent=1, default=float))
    print(f"\nsupernet ({args.space} space, norm scope {reward._run.norm_scope}, sampling "
          f"{reward._run.sampling}, split {reward._run.split}): {args.steps} steps, "
          f"prepare {prepare_seconds:.0f} s; "
          f"{per_candidate:.2f} s per candidate (AP50, {args.recalibrate} recalibration "
          f"batches) = {3600 / per_candidate:.0f} per CPU-hour (1 thread)\n")
    print_table(lines)
    print_paired(against_proxy, "Paired against the calibration's recorded proxy (tau minus "
                                "the proxy's, the same architectures in every resample):")
    print_paired(compared, f"Paired against {args.compare} on the architectures both scored:")


def print_table(lines: list[dict[str, Any]]) -> None:
    print("| against | score | n | Kendall tau [90%] | Spearman rho [90%] | top-3 | s/cand |")
    print("|---|---|---|---|---|---|---|")
    for line in lines:
        seconds = f"{line['seconds']:.2f}" if line["seconds"] is not None else "-"
        print(f"| {line['against']} | {line['score']} | {line['n']} | {line['kendall_tau']} | "
              f"{line['spearman_rho']} | {line['top3']:.2f} | {seconds} |")


def rescore(out: Path, folders: list[Path]) -> None:
    """The reference table again from ``OUT/fidelity.json``'s rows, against ``folders`` (a
    subset of the run's calibrations, e.g. one that all runs share); trains and scores nothing."""
    summary = json.loads((out / "fidelity.json").read_text())
    check_calibrations(folders, summary["proxy"])
    rows: dict[str, dict[str, float]] = {}
    truth: dict[str, np.ndarray] = {}
    for name, (_, scores, _, recorded) in reference_scores(folders).items():
        if name not in summary["rows"]:
            sys.exit(f"{out}: no scores for {name} of {folders}")
        rows[name] = {k: v for k, v in summary["rows"][name].items() if k != "recorded proxy"}
        if "supernet ap50" in rows[name]:
            rows[name]["recorded proxy"] = float(np.mean(recorded))
        truth[name] = np.array(scores)
    print(f"{out}: supernet seed {summary['seed']}, {summary['steps']} steps; against "
          + ", ".join(str(f) for f in folders) + "\n")
    print_table(table(rows, truth, COLUMNS, "reference AP"))


if __name__ == "__main__":
    main()
