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
    return {"architecture": name, "schedule": schedule, "seed_index": seed_index, "seed": 1,
            "score": curve["ap"][-1], "seconds": seconds, "worker": "main", "error": None,
            "finished_at": 0.0, "curve": curve if keep_curve else None}


def write_toy_calibration(out: Path, curves: bool = True, proxy_epochs: int = 1) -> list[str]:
    """A finished calibration of 6 architectures x 2 seeds whose reference ranks them by their
    index from epoch 2 on (reversed at epoch 1), and whose 1-epoch proxy ranks them reversed
    (a longer proxy, 5 s an epoch, ranks them right from its second epoch)."""
    config = CalibrationConfig(out, proxy={"epochs": proxy_epochs, "image_size": 64},
                               reference={"epochs": REFERENCE_EPOCHS, "synth_images": 600,
                                          "score": "ap"}, seed=5)
    names = [arch.name for arch in choose_architectures(config.space, config.bundled,
                                                        config.sampled, config.poor, config.seed)]
    out.mkdir(parents=True)
    (out / "plan.json").write_text(json.dumps(config.identity()))
    lines = []
    for index, name in enumerate(names):
        for seed in range(2):
            noise = 0.001 * seed
            good, bad = 0.1 + 0.05 * index + noise, 0.5 - 0.05 * index + noise
            reference = {"ap": [bad, good, good + 0.01], "ap50": [bad, good, good + 0.02]}
            proxy = {"ap": [bad] + [good] * (proxy_epochs - 1),
                     "ap50": [bad + 0.1] + [good + 0.1] * (proxy_epochs - 1)}
            for schedule, curve, seconds in (("reference", reference, 30.0),
                                             ("proxy", proxy, 5.0 * proxy_epochs)):
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
    write_toy_calibration(out)
    before = (out / "trainings.jsonl").read_bytes()
    tuned = cli("search", "calibrate", "--tune", "-o", str(out))
    assert tuned.returncode == 0, tuned.stderr
    assert "chosen: reference stopped at epoch 2/3, ap" in tuned.stdout
    assert (out / "trainings.jsonl").read_bytes() == before  # nothing trained
    assert not (out / "proxy").exists()  # no data written either
    tuning = json.loads((out / "tuning.json").read_text())
    assert tuning["chosen"] == "reference stopped at epoch 2/3, ap"
    assert len(tuning["chosen_on"]) == len(tuning["held_out"]) == 4  # 8 architectures
    assert (out / "tuning.png").stat().st_size > 1000
    text = (out / "proxy.toml").read_text()
    assert "stop_epoch = 2" in text and 'score = "ap"' in text and "epochs = 3" in text
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
    write_toy_calibration(out)
    write_toy_calibration(longer, proxy_epochs=2)
    alone = cli("search", "calibrate", "--tune", "-o", str(out))
    assert "chosen: reference stopped at epoch 2/3, ap" in alone.stdout
    tuned = cli("search", "calibrate", "--tune", "--ladder-from", str(longer), "-o", str(out))
    assert tuned.returncode == 0, tuned.stderr
    assert "chosen: proxy-2-epochs: proxy stopped at epoch 2/2, ap at 0.333" in tuned.stdout
    recorded = json.loads((out / "tuning.json").read_text())
    assert recorded["ladder_from"] == [str(longer)] and recorded["chosen"].startswith(
        "proxy-2-epochs: ")
    assert "epochs = 2" in (out / "proxy.toml").read_text()
    config = CalibrationConfig(other, proxy={"epochs": 1, "image_size": 64}, seed=6)
    other.mkdir()
    (other / "plan.json").write_text(json.dumps(config.identity()))
    (other / "trainings.jsonl").write_text("")
    refused = cli("search", "calibrate", "--tune", "--ladder-from", str(other), "-o", str(out))
    assert refused.returncode == 1 and "--ladder-from" in refused.stderr
    assert "other architectures" in refused.stderr or "reference" in refused.stderr
    assert cli("search", "calibrate", "--ladder-from", str(longer), "-o",
               str(out)).returncode == 2  # only with --tune
