"""``search calibrate --tune``: the proxy ladder chosen on a recorded toy calibration (nothing
trained), its held-out check, proxy.toml and ``--proxy-config``, and bad input."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nasfpn_cli.search.calibration import CalibrationConfig, choose_architectures
from nasfpn_cli.search.proxy_task import extrapolate
from nasfpn_cli.search.tuning import build_ladder, split_architectures, tune

REFERENCE_EPOCHS = 3


def _record(name, schedule, seed_index, curve, seconds, keep_curve):
    return {"architecture": name, "schedule": schedule, "seed_index": seed_index,
            "seed": 1000 + seed_index,  # one seed per seed index, both schedules (as recorded)
            "score": curve["ap"][-1], "seconds": seconds, "worker": "main", "error": None,
            "finished_at": 0.0, "curve": curve if keep_curve else None}


def write_toy_calibration(out: Path, curves: bool = True, proxy_epochs: int = 1,
                          sampled: int = 2, numerics: str = "fp32",
                          proxy_seconds: float = 5.0, poor: int = 2) -> list[str]:
    """A finished calibration of 4 + ``sampled`` + ``poor`` architectures x 2 seeds whose reference
    ranks them by their index from epoch 2 on (reversed at epoch 1), and whose 1-epoch proxy
    ranks them reversed (a longer proxy, ``proxy_seconds`` an epoch, ranks them right from its
    second epoch). ``numerics`` "bf16": the proxy with --proxy-amp on --proxy-channels-last on,
    its reference fp32 as the other's (the same curves: a twin that ranks alike)."""
    proxy = {"epochs": proxy_epochs, "image_size": 64}
    reference = {"epochs": REFERENCE_EPOCHS, "synth_images": 600, "score": "ap"}
    if numerics == "bf16":
        proxy.update(amp="on", channels_last="on")
        reference.update(amp="off", channels_last="off")
    config = CalibrationConfig(out, proxy=proxy, reference=reference, seed=5, sampled=sampled,
                               poor=poor)
    names = [arch.name for arch in choose_architectures(config.space, config.bundled,
                                                        config.sampled, config.poor, config.seed)]
    step = min(0.05, 0.4 / len(names))
    out.mkdir(parents=True)
    (out / "plan.json").write_text(json.dumps(config.identity()))
    lines = []
    for index, name in enumerate(names):
        for seed in range(2):
            noise = 0.001 * seed
            good, bad = 0.1 + step * index + noise, 0.5 - step * index + noise
            reference = {"ap": [bad, good, good + 0.01], "ap50": [bad, good, good + 0.02]}
            proxy = {"ap": [bad] + [good] * (proxy_epochs - 1),
                     "ap50": [bad + 0.1] + [good + 0.1] * (proxy_epochs - 1)}
            for schedule, curve, seconds in (("reference", reference, 30.0),
                                             ("proxy", proxy, proxy_seconds * proxy_epochs)):
                lines.append(json.dumps(_record(name, schedule, seed, curve, seconds, curves)))
    (out / "trainings.jsonl").write_text("\n".join(lines) + "\n")
    return names


def test_extrapolation_and_split():
    assert extrapolate([0.1, 0.2, 0.9], 2, 5) == pytest.approx(0.2 + 0.1 * 3)
    first, second = split_architectures(list("abcdefg"), seed=1)
    assert sorted(first + second) == list(range(7)) and len(first) == 4
    assert split_architectures(list("abcdefg"), seed=1) == (first, second)  # seeded


def test_the_cheapest_rung_that_ranks_like_the_reference_is_chosen():
    archs, seeds = 6, 2
    rising = np.arange(archs, dtype=float)[:, None].repeat(seeds, 1)
    curves = {"reference": np.stack([np.stack([-rising, rising, rising + 1], -1)] * 2, 2),
              "proxy": np.stack([np.stack([-rising], -1)] * 2, 2)}
    ladder = build_ladder(curves, {"proxy": {"epochs": 1}, "reference": {"epochs": 3}},
                          {"proxy": 10.0, "reference": 30.0})
    assert [rung.cost for rung in ladder] == sorted(rung.cost for rung in ladder)
    assert not any(r.name.startswith("reference stopped at epoch 3/3") for r in ladder)
    result = tune(list("abcdef"), rising + 1, ladder, target=0.6, top_k=3, seed=0)
    assert result.chosen.name == "reference stopped at epoch 2/3, ap"
    assert result.chosen.settings == {"epochs": 3, "stop_epoch": 2, "score": "ap"}
    assert result.chosen.cost == pytest.approx(2 / 3, abs=1e-4)
    assert result.chosen.held_out.kendall_tau.value == pytest.approx(1.0)
    cheaper = [rung for rung in result.rungs if rung.cost < result.chosen.cost]
    assert cheaper and all(rung.chosen_on.kendall_tau.value < 0.6 for rung in cheaper)


def test_a_rung_that_reaches_the_target_by_luck_is_passed_over():
    """On the chosen half the cheap rung ranks 3 architectures with one pair swapped (tau 1/3,
    at a target of 0.3): its interval reaches far below 0.2, so the rule with the bar (the
    default) takes the dearer rung that ranks them all right; without it the cheap one wins,
    and with only the lucky rung the bar-less choice is the fallback, marked weak."""
    from nasfpn_cli.search.tuning import MIN_TAU_LOW, Rung

    names = list("abcdef")
    reference = np.arange(6, dtype=float)[:, None].repeat(2, 1)
    chosen_on, _ = split_architectures(names, seed=0)
    lucky = reference.copy()
    lucky[[chosen_on[0], chosen_on[1]]] = lucky[[chosen_on[1], chosen_on[0]]]
    ladder = [Rung("lucky", {"epochs": 1}, 0.1, lucky), Rung("sound", {"epochs": 2}, 0.2,
                                                              reference.copy())]
    barred = tune(names, reference, ladder, target=0.3, top_k=1, seed=0, min_low=MIN_TAU_LOW)
    assert barred.rungs[0].chosen_on.kendall_tau.value == pytest.approx(1 / 3)
    assert barred.rungs[0].chosen_on.kendall_tau.low < MIN_TAU_LOW
    assert barred.chosen.name == "sound"
    assert barred.cleared_bar
    assert tune(names, reference, ladder, target=0.3, top_k=1, seed=0).chosen.name == "sound"
    assert tune(names, reference, ladder, target=0.3, top_k=1, seed=0,
                min_low=None).chosen.name == "lucky"
    weak = tune(names, reference, ladder[:1], target=0.3, top_k=1, seed=0)
    assert weak.chosen.name == "lucky" and not weak.cleared_bar
    assert tune(names, reference, ladder[:1], target=0.3, top_k=1, seed=0,
                fallback=None).chosen is None


def test_the_fallback_takes_the_surest_rung_within_a_third_of_the_reference():
    """When no rung clears the bar, the cheapest that reaches the target is the luckiest of
    many: the fallback takes the highest low end of tau within MAX_COST (ties: the cheaper),
    and the cheapest only when nothing is that cheap."""
    from types import SimpleNamespace

    from nasfpn_cli.search.tuning import FALLBACKS, MAX_COST

    def rung(name, cost, low):
        return SimpleNamespace(name=name, cost=cost,
                               chosen_on=SimpleNamespace(kendall_tau=SimpleNamespace(low=low)))

    reaching = [rung("cheap", 0.05, -0.3), rung("sure", 0.12, 0.15), rung("as sure", 0.2, 0.15),
                rung("surer but dear", 0.9, 0.19), rung("undefined", 0.1, None)]
    assert FALLBACKS["surest"](reaching).name == "sure"
    assert FALLBACKS["cheapest"](reaching).name == "cheap"
    dear = [rung("dear", MAX_COST + 0.1, 0.1), rung("dearer", 0.9, 0.15)]
    assert FALLBACKS["surest"](dear).name == "dear"


def test_tune_cli_writes_a_proxy_config_that_search_reads(cli, tmp_path):
    out = tmp_path / "calibration"
    write_toy_calibration(out, sampled=10)
    before = (out / "trainings.jsonl").read_bytes()
    tuned = cli("search", "calibrate", "--tune", "-o", str(out))
    assert tuned.returncode == 0, tuned.stderr
    assert "chosen: reference stopped at epoch 2/3, ap" in tuned.stdout
    assert (out / "trainings.jsonl").read_bytes() == before  # nothing trained
    assert not (out / "proxy").exists()  # no data written either
    tuning = json.loads((out / "tuning.json").read_text())
    assert tuning["chosen"] == "reference stopped at epoch 2/3, ap"
    assert len(tuning["chosen_on"]) == len(tuning["held_out"]) == 8  # 16 architectures
    assert not tuning["weak_calibration"] and not tuning["kept_default"]
    assert tuning["default"] == "proxy as calibrated, ap50"
    assert tuning["from_default"]["difference"]["value"] > 1  # the default ranks them reversed
    assert (out / "tuning.png").stat().st_size > 1000
    text = (out / "proxy.toml").read_text()
    assert "stop_epoch = 2" in text and 'score = "ap"' in text and "epochs = 3" in text
    assert "# paired difference from the default proxy (proxy as calibrated, ap50), Kendall " \
           "tau on all 16: +" in text
    assert 'amp = "off"' in text and "# numerics: fp32 (no twin of it" in text
    printed = cli("search", "--proxy-config", str(out / "proxy.toml"), "--print-config",
                  "--proxy-lr", "0.01")
    assert printed.returncode == 0, printed.stderr
    options = json.loads(printed.stdout)
    assert (options["proxy_stop_epoch"], options["proxy_epochs"], options["proxy_score"],
            options["proxy_images"], options["proxy_image_size"], options["proxy_lr"]) == (
        2, 3, "ap", 600, 64, 0.01)  # flags given win over the file


def test_tune_bad_input_is_a_clear_error(cli, tmp_path):
    out = tmp_path / "calibration"
    write_toy_calibration(out)
    for target in ("0", "1.5", "nan"):
        bad = cli("search", "calibrate", "--tune", "--target", target, "-o", str(out))
        assert bad.returncode == 2 and "--target" in bad.stderr, bad.stderr
    assert cli("search", "calibrate", "--target", "0.5", "-o", str(out)).returncode == 2
    old = tmp_path / "old"
    write_toy_calibration(old, curves=False)
    refused = cli("search", "calibrate", "--tune", "-o", str(old))
    assert refused.returncode == 1 and "kept no learning curve" in refused.stderr
    nothing = cli("search", "calibrate", "--tune", "-o", str(tmp_path / "none"))
    assert nothing.returncode == 1 and "no calibration here" in nothing.stderr
    config = tmp_path / "proxy.toml"
    config.write_text('[proxy]\nepochs = 3\ncolour = "red"\n')
    unknown = cli("search", "--proxy-config", str(config), "--print-config")
    assert unknown.returncode == 2 and "proxy.colour" in unknown.stderr, unknown.stderr
    config.write_text('epochs = 3\n')
    table = cli("search", "--proxy-config", str(config), "--print-config")
    assert table.returncode == 2 and "no [proxy] table" in table.stderr


def test_damaged_calibration_files_are_named(cli, tmp_path):
    """plan.json without its proxy, a NaN score, a training recorded twice: exit 1 naming the
    file (and line); nothing trains."""
    out = tmp_path / "calibration"
    write_toy_calibration(out)
    log = out / "trainings.jsonl"
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines + [lines[0]]) + "\n")
    twice = cli("search", "calibrate", "--tune", "-o", str(out))
    assert twice.returncode == 1 and f"trainings.jsonl:{len(lines) + 1}: the training" in \
        twice.stderr and "recorded again (first on line 1)" in twice.stderr, twice.stderr
    record = json.loads(lines[0])
    record["score"] = float("nan")
    log.write_text("\n".join([json.dumps(record)] + lines[1:]) + "\n")
    nan = cli("search", "calibrate", "--tune", "-o", str(out))
    assert nan.returncode == 1 and "trainings.jsonl:1: field 'score': expected a finite number" \
        in nan.stderr and "got NaN" in nan.stderr, nan.stderr
    plan = json.loads((out / "plan.json").read_text())
    del plan["proxy"]
    (out / "plan.json").write_text(json.dumps(plan))
    for args in (["--tune"], ["--resume", "--threads", "1"]):
        broken = cli("search", "calibrate", *args, "-o", str(out))
        assert broken.returncode == 1 and "plan.json: field 'proxy': missing" in \
            broken.stderr and "Traceback" not in broken.stderr, broken.stderr


def test_the_ladder_takes_the_rungs_of_other_proxies_on_the_same_reference(cli, tmp_path):
    """--ladder-from: a calibration of the same plan with a 2-epoch proxy adds its rungs; its
    epoch 2 (1/3 of a reference training) ranks like the reference and beats the reference
    stopped at epoch 2 (2/3); a calibration of other architectures is refused."""
    out, longer, other = tmp_path / "cal", tmp_path / "proxy-2-epochs", tmp_path / "other"
    write_toy_calibration(out, sampled=10)
    write_toy_calibration(longer, proxy_epochs=2, sampled=10)
    alone = cli("search", "calibrate", "--tune", "-o", str(out))
    assert "chosen: reference stopped at epoch 2/3, ap" in alone.stdout
    tuned = cli("search", "calibrate", "--tune", "--ladder-from", str(longer), "-o", str(out))
    assert tuned.returncode == 0, tuned.stderr
    assert "chosen: proxy-2-epochs: proxy stopped at epoch 2/2, ap at 0.333" in tuned.stdout
    recorded = json.loads((out / "tuning.json").read_text())
    assert recorded["ladder_from"] == [str(longer)] and recorded["chosen"].startswith(
        "proxy-2-epochs: ")
    assert "epochs = 2" in (out / "proxy.toml").read_text()
    config = CalibrationConfig(other, proxy={"epochs": 1, "image_size": 64}, seed=6,
                               sampled=10)
    other.mkdir()
    (other / "plan.json").write_text(json.dumps(config.identity()))
    (other / "trainings.jsonl").write_text("")
    refused = cli("search", "calibrate", "--tune", "--ladder-from", str(other), "-o", str(out))
    assert refused.returncode == 1 and "--ladder-from" in refused.stderr
    assert "other architectures" in refused.stderr or "reference" in refused.stderr
    assert cli("search", "calibrate", "--ladder-from", str(longer), "-o",
               str(out)).returncode == 2  # only with --tune


def _rungs(names, reference, **scores):
    """Rungs named by ``scores`` (name -> (cost, scores, settings))."""
    from nasfpn_cli.search.tuning import Rung

    return {name: Rung(name, settings, cost, table)
            for name, (cost, table, settings) in scores.items()}


def _swapped(table: np.ndarray, rows: list[int]) -> np.ndarray:
    """``table`` with the rows at ``rows`` in reversed order (those architectures misranked)."""
    table = table.copy()
    table[rows] = table[rows[::-1]]
    return table


@pytest.mark.parametrize("count", [8, 16])
def test_a_choice_that_ranks_worse_than_the_default_on_all_architectures_is_not_taken(count):
    """The cheap rung ranks the half it is chosen on perfectly and the held-out half reversed:
    the rule picks it, the paired comparison on all architectures keeps the default (which ranks
    them all right), weak calibration or not."""
    names = [f"a{i}" for i in range(count)]
    reference = np.arange(count, dtype=float)[:, None].repeat(2, 1)
    chosen_on, held_out = split_architectures(names, seed=0)
    rungs = _rungs(names, reference,
                   cheap=(0.1, _swapped(reference, held_out), {"epochs": 1}),
                   default=(0.3, reference.copy(), {"epochs": 4}))
    tuning = tune(names, reference, list(rungs.values()), target=0.5, top_k=2, seed=0,
                  default=rungs["default"])
    assert tuning.ruled == "cheap" and "does not rank as well" in tuning.kept_default
    assert tuning.chosen is tuning.default and tuning.chosen.name == "default"
    assert tuning.weak == (count < 16)
    assert tuning.ruled_from_default.value < 0
    assert tuning.from_default.difference.value == 0.0


def test_a_weak_calibration_takes_only_a_cheaper_rung_that_ranks_at_least_as_well():
    """8 architectures: a cheaper rung as good as the default on all of them is taken; a dearer
    one (the reference stopped early), however good, is not: the default stays."""
    names = [f"a{i}" for i in range(8)]
    reference = np.arange(8, dtype=float)[:, None].repeat(2, 1)
    every = list(range(8))
    default = (0.3, _swapped(reference, every), {"epochs": 4})  # ranks them reversed
    cheap = _rungs(names, reference, cheap=(0.1, reference.copy(), {"epochs": 1}),
                   default=default)
    taken = tune(names, reference, list(cheap.values()), target=0.5, top_k=2, seed=0,
                 default=cheap["default"])
    assert taken.weak and taken.chosen.name == "cheap" and not taken.kept_default
    assert taken.from_default.difference.value == pytest.approx(2.0)
    dear = _rungs(names, reference, dear=(0.6, reference.copy(), {"epochs": 8}),
                  default=default)
    kept = tune(names, reference, list(dear.values()), target=0.5, top_k=2, seed=0,
                default=dear["default"])
    assert kept.ruled == "dear" and kept.kept_default and kept.chosen.name == "default"
    strong_names = [f"a{i}" for i in range(16)]
    strong_reference = np.arange(16, dtype=float)[:, None].repeat(2, 1)
    strong = _rungs(strong_names, strong_reference,
                    dear=(0.6, strong_reference.copy(), {"epochs": 8}),
                    default=(0.3, _swapped(strong_reference, list(range(16))), {"epochs": 4}))
    assert tune(strong_names, strong_reference, list(strong.values()), target=0.5, top_k=2,
                seed=0, default=strong["default"]).chosen.name == "dear"


FP32, BF16 = {"amp": "off", "channels_last": "off"}, {"amp": "on", "channels_last": "on"}


@pytest.mark.parametrize("worse", [False, True])
def test_the_cheaper_numerics_are_taken_only_when_they_rank_as_well(worse):
    """The default proxy and its bf16 twin (the same settings but the numerics, 0.6 of the
    cost): the twin is never raced by the rule (though cheaper and as good on the chosen half);
    compared paired with the chosen rung on all architectures, it is taken when as good, kept
    out when it misranks the held-out half."""
    names = [f"a{i}" for i in range(16)]
    reference = np.arange(16, dtype=float)[:, None].repeat(2, 1)
    _, held_out = split_architectures(names, seed=0)
    twin_scores = _swapped(reference, held_out) if worse else reference.copy()
    rungs = _rungs(names, reference,
                   bf16=(0.18, twin_scores, {"epochs": 4, **BF16}),
                   default=(0.3, reference.copy(), {"epochs": 4, **FP32}))
    tuning = tune(names, reference, list(rungs.values()), target=0.5, top_k=2, seed=0,
                  default=rungs["default"])
    assert tuning.ruled == "default"  # the twin is compared, not raced
    assert (tuning.precision.first, tuning.precision.second) == ("bf16", "default")
    assert tuning.precision.as_good is not worse
    assert tuning.chosen.name == ("default" if worse else "bf16")
    from nasfpn_cli.search.tuning import numerics_text

    assert numerics_text(tuning).startswith("fp32 (bf16 against default" if worse
                                            else "bf16 (bf16 against default")


def test_tune_cli_on_a_weak_calibration_says_so_and_keeps_the_default(cli, tmp_path):
    """8 architectures: the rule's choice (the reference stopped at epoch 2, dearer than the
    proxy) is not taken; proxy.toml holds the default proxy, says why, and the ladder table fits
    an 80-column terminal with every number whole."""
    out = tmp_path / "calibration"
    write_toy_calibration(out)
    tuned = cli("search", "calibrate", "--tune", "-o", str(out), env={"COLUMNS": "80"})
    assert tuned.returncode == 0, tuned.stderr
    assert "warning: a weak calibration: 8 architectures, fewer than 16" in tuned.stderr
    assert "kept the default proxy: the rule chose reference stopped at epoch 2/3, ap, but a " \
           "weak calibration takes only a cheaper rung, and it costs 0.667 against the " \
           "default's 0.167" in tuned.stdout, tuned.stdout
    assert "chosen: proxy as calibrated, ap50" in tuned.stdout
    lines = tuned.stdout.splitlines()
    table = lines[:lines.index(next(line for line in lines if line.startswith("chosen:")))]
    assert max(len(line) for line in table) <= 80 and "…" not in tuned.stdout
    assert any(line.strip().startswith("reference stopped at") and "0.667" in line
               and "1.00 [0.80,1.00]" in line for line in table), "\n".join(table)
    recorded = json.loads((out / "tuning.json").read_text())
    assert recorded["weak_calibration"] and recorded["kept_default"]
    assert recorded["rule_chose"] == "reference stopped at epoch 2/3, ap"
    text = (out / "proxy.toml").read_text()
    assert "# weak: a calibration of 8 architectures (fewer than 16)" in text
    assert "stop_epoch" not in text and "epochs = 1" in text


def test_tune_cli_takes_the_bf16_twin_given_as_ladder_from(cli, tmp_path):
    """The same plan calibrated with a bf16 proxy (its fp32 reference as here, the same seeds)
    adds twins of the proxy's rungs; ranking alike at 0.6 of the cost, the chosen rung's twin is
    taken and proxy.toml turns mixed precision on."""
    out, fast = tmp_path / "cal", tmp_path / "cal-bf16"
    write_toy_calibration(out, proxy_epochs=2, sampled=10)
    write_toy_calibration(fast, proxy_epochs=2, sampled=10, numerics="bf16", proxy_seconds=3.0)
    tuned = cli("search", "calibrate", "--tune", "--ladder-from", str(fast), "-o", str(out))
    assert tuned.returncode == 0, tuned.stderr
    assert "chosen: cal-bf16: proxy stopped at epoch 2/2, ap" in tuned.stdout, tuned.stdout
    assert "numerics: bf16 (cal-bf16: proxy stopped at epoch 2/2, ap against proxy stopped at " \
           "epoch 2/2, ap, paired tau on all: +0.00" in tuned.stdout
    text = (out / "proxy.toml").read_text()
    assert 'amp = "on"' in text and 'channels_last = "on"' in text
    searched = cli("search", "--proxy-config", str(out / "proxy.toml"), "--print-config")
    assert searched.returncode == 0, searched.stderr
    options = json.loads(searched.stdout)  # the search trains its proxy in bf16 from it
    assert (options["proxy_amp"], options["proxy_channels_last"], options["proxy_epochs"]) == (
        "on", "on", 2)
    recorded = json.loads((out / "tuning.json").read_text())
    assert recorded["precision"]["as_good"] and recorded["rule_chose"] == \
        "proxy stopped at epoch 2/2, ap"


def test_a_twin_that_is_not_cheaper_is_compared_and_kept_out():
    """A twin dearer than the chosen rung (its 1-epoch training's overhead, or seconds measured
    on a busier day): its paired comparison is still reported, and the chosen numerics stay."""
    names = [f"a{i}" for i in range(16)]
    reference = np.arange(16, dtype=float)[:, None].repeat(2, 1)
    rungs = _rungs(names, reference, default=(0.1, reference.copy(), {"epochs": 4, **FP32}),
                   bf16=(0.12, reference.copy(), {"epochs": 4, **BF16}))
    tuning = tune(names, reference, list(rungs.values()), target=0.5, top_k=2, seed=0,
                  default=rungs["default"])
    assert tuning.chosen.name == "default" and tuning.precision.as_good
    assert tuning.precision_verdict == ("kept: the twin is not cheaper (0.120 against 0.100 of "
                                        "a reference training)")
    assert tuning.to_dict()["precision"]["verdict"] == tuning.precision_verdict
