"""``search calibrate --reference-from DIR``: trainings an earlier calibration recorded are
copied, not run, where schedule settings, data and architecture match (issue 17)."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from nasfpn_cli.search.calibration import (Calibration, CalibrationConfig, resumed_config,
                                           run_calibration)
from nasfpn_cli.search.reuse import schedule_fingerprint

from test_tuning import REFERENCE_EPOCHS, write_toy_calibration


@pytest.fixture
def recorded(tmp_path) -> Path:
    out = tmp_path / "first"
    write_toy_calibration(out)
    return out


def _like(recorded: Path, out: Path, **changes) -> CalibrationConfig:
    """The recorded calibration's plan in ``out``, with ``changes`` and --reference-from it."""
    config = resumed_config(recorded)
    values = {name: getattr(config, name) for name in
              ("proxy", "reference", "bundled", "sampled", "poor", "seeds", "seed", "space",
               "top_k")}
    return CalibrationConfig(out, **{**values, **changes}, reference_from=(str(recorded),))


def test_the_same_plan_trains_nothing_and_measures_the_same(recorded, tmp_path):
    result = run_calibration(_like(recorded, tmp_path / "second"), progress=False)
    assert result.reused == 32  # 8 architectures x 2 seeds x 2 schedules
    lines = [json.loads(line) for line in
             (tmp_path / "second" / "trainings.jsonl").read_text().splitlines()]
    assert all(line["worker"] == f"reused from {recorded}" for line in lines)
    first = {(r["architecture"], r["schedule"], r["seed_index"]): (r["score"], r["curve"])
             for r in map(json.loads, (recorded / "trainings.jsonl").read_text().splitlines())}
    assert {(r["architecture"], r["schedule"], r["seed_index"]): (r["score"], r["curve"])
            for r in lines} == first
    # and a resume finds everything done
    again = run_calibration(_like(recorded, tmp_path / "second"), resume=True, progress=False)
    assert again.fidelity.to_dict() == result.fidelity.to_dict()


def test_only_matching_schedules_are_copied(recorded, tmp_path):
    """Another proxy (2 epochs): its trainings are new, the reference ones are copied."""
    config = _like(recorded, tmp_path / "other-proxy",
                   proxy={"epochs": 2, "image_size": 64})
    calibration = Calibration(config, prepare=False)
    copies = calibration._reused(calibration.jobs)
    assert {record.schedule for record in copies} == {"reference"}
    assert len(copies) == 16


def test_architectures_match_by_genotype_not_by_name(recorded, tmp_path):
    """Another --seed samples other architectures: only the bundled four (same genotype text)
    keep their recorded trainings; 'sampled1' of the new plan is another pyramid."""
    calibration = Calibration(_like(recorded, tmp_path / "other-seed", seed=11), prepare=False)
    copied = {record.architecture for record in calibration._reused(calibration.jobs)}
    assert copied == {"fpn", "panet", "nasfpn", "bifpn"}


def test_a_pyramid_under_another_name_is_the_same_pyramid(recorded, tmp_path):
    """sampled1 of the recorded plan, given to the new one as a genotype file named mine.txt."""
    from nasfpn_cli.search.calibration import choose_architectures

    old = resumed_config(recorded)
    sampled1 = next(arch for arch in choose_architectures(old.space, old.bundled, old.sampled,
                                                         old.poor, old.seed)
                    if arch.name == "sampled1")
    mine = tmp_path / "mine.txt"
    mine.write_text(sampled1.genotype.replace("genotype sampled1", "genotype mine"))
    config = _like(recorded, tmp_path / "renamed", bundled=("fpn", "panet", str(mine)),
                   sampled=0, poor=0)
    calibration = Calibration(config, prepare=False)
    copied = {record.architecture for record in calibration._reused(calibration.jobs)}
    assert copied == {"fpn", "panet", "mine"}


def test_a_training_in_two_folders_is_one_seed(recorded, tmp_path):
    """Folder B reused A's two seeds and trained a third; given both, a 4-seed plan copies
    three distinct trainings (A's two, B's third), never A's seeds a second time, and trains
    the fourth."""
    more = tmp_path / "more"
    more.mkdir()
    plan = {**json.loads((recorded / "plan.json").read_text()), "seeds": 3}
    (more / "plan.json").write_text(json.dumps(plan))
    lines = [json.loads(line) for line in (recorded / "trainings.jsonl").read_text().splitlines()]
    copied = [{**line, "worker": f"reused from {recorded}"} for line in lines]
    third = [{**line, "seed_index": 2, "seed": 3000, "score": line["score"] + 0.5}
             for line in lines if line["seed_index"] == 0]
    (more / "trainings.jsonl").write_text(
        "".join(json.dumps(line) + "\n" for line in copied + third))
    config = replace(_like(recorded, tmp_path / "four", seeds=4),
                     reference_from=(str(recorded), str(more)))
    calibration = Calibration(config, prepare=False)
    copies = calibration._reused(calibration.jobs)
    by_arch = {}
    for record in copies:
        by_arch.setdefault((record.architecture, record.schedule), []).append(record)
    assert len(by_arch) == 16  # 8 architectures x 2 schedules
    for records in by_arch.values():
        assert sorted(r.seed_index for r in records) == [0, 1, 2]  # the fourth is trained
        assert sorted(r.seed for r in records) == [1000, 1001, 3000]
        assert {r.worker for r in records if r.seed_index < 2} == {f"reused from {recorded}"}
        assert {r.worker for r in records if r.seed_index == 2} == {f"reused from {more}"}


def test_other_reference_settings_or_data_match_nothing(recorded, tmp_path):
    longer = _like(recorded, tmp_path / "longer",
                   reference={"epochs": REFERENCE_EPOCHS + 1, "synth_images": 600, "score": "ap"})
    calibration = Calibration(longer, prepare=False)
    assert [r.schedule for r in calibration._reused(calibration.jobs)] == ["proxy"] * 16
    base = {"epochs": 1}
    other_data = {**base, "synth_kind": "shapes"}
    assert schedule_fingerprint(base) != schedule_fingerprint(other_data)
    assert schedule_fingerprint(base) == schedule_fingerprint({**base, "curve": True})


def test_annotation_files_are_matched_by_content(tmp_path):
    for name in ("train.json", "val.json"):
        (tmp_path / name).write_text('{"images": []}')
    (tmp_path / "images").mkdir()
    options = {"train_ann": str(tmp_path / "train.json"), "val_ann": str(tmp_path / "val.json"),
               "train_images": str(tmp_path / "images"), "val_images": str(tmp_path / "images")}
    before = schedule_fingerprint(options)
    (tmp_path / "val.json").write_text('{"images": [], "edited": true}')
    assert schedule_fingerprint(options) != before


def test_bad_reference_folders_are_clear_errors(recorded, tmp_path, cli):
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = cli("search", "calibrate", "--reference-from", str(empty), "-o",
                  str(tmp_path / "new"))
    assert refused.returncode == 1 and f"{empty}: no calibration here" in refused.stderr, \
        refused.stderr
    itself = cli("search", "calibrate", "--resume", "--reference-from", str(recorded), "-o",
                 str(recorded))
    assert itself.returncode == 2 and "the calibration's own folder" in itself.stderr, \
        itself.stderr


def test_a_schedule_it_cannot_copy_is_named_before_any_training(recorded, tmp_path):
    """A --proxy-image-size that the reference follows: the user meant to reuse the reference
    and hears why it cannot be before hours of training, with the option that keeps it."""
    reference = {**resumed_config(recorded).reference, "image_size": 96}
    calibration = Calibration(_like(recorded, tmp_path / "s96", reference=reference),
                              prepare=False)
    copies = calibration._reused(calibration.jobs)
    assert {record.schedule for record in copies} == {"proxy"}
    [line] = calibration.misses(calibration.jobs, copies)
    assert line == (f"--reference-from {recorded}: none of its reference trainings can be "
                    "copied, the reference schedule differs: image_size 96 here, 64 there (to "
                    "reuse them: --reference-image-size 64)")
    same = Calibration(_like(recorded, tmp_path / "same"), prepare=False)
    assert same.misses(same.jobs, same._reused(same.jobs)) == []


@pytest.mark.parametrize("native", [True, False])
def test_a_reference_records_its_precision_and_is_reused_only_in_it(recorded, tmp_path,
                                                                    monkeypatch, native):
    """The reference's numerics default to train's (auto), decided when the plan is made; the
    recorded one (no amp in its plan: fp32, as before) is copied only by an fp32 reference."""
    from nasfpn_cli.engine import precision
    from nasfpn_cli.search.proxy_task import DEFAULT_REFERENCE

    monkeypatch.delenv(precision.NO_NATIVE_BF16_ENV, raising=False)
    monkeypatch.setattr(precision, "_cpu_has_native_bf16", lambda: native)
    assert "amp" not in resumed_config(recorded).reference
    reference = {**DEFAULT_REFERENCE, "epochs": REFERENCE_EPOCHS}
    config = _like(recorded, tmp_path / "new", reference=reference)
    decided = "on" if native else "off"
    assert (config.reference["amp"], config.reference["channels_last"]) == (decided, decided)
    assert config.identity()["reference"]["amp"] == decided  # plan.json records it
    assert config.proxy == resumed_config(recorded).proxy  # the proxy stays fp32
    calibration = Calibration(config, prepare=False)
    copies = calibration._reused(calibration.jobs)
    lines = calibration.misses(calibration.jobs, copies)
    if native:
        assert {record.schedule for record in copies} == {"proxy"}
        assert lines == [f"--reference-from {recorded}: none of its reference trainings can be "
                         "copied, the reference schedule differs: amp on here, off there, "
                         "channels_last on here, off there (to reuse them: --reference-amp off, "
                         "--reference-channels-last off)"]
    else:
        assert len([r for r in copies if r.schedule == "reference"]) == 16 and lines == []


def test_a_proxy_stopped_early_never_moves_the_reference(recorded, tmp_path):
    """A tuned proxy.toml with a stopped (and extrapolated) rung: the reference still trains its
    whole schedule, so the recorded reference trainings are copied; no message names an option
    that does not exist (there was a --reference-stop-epoch in one)."""
    from nasfpn_cli.search.calibration import reference_flag

    proxy = {"epochs": 3, "image_size": 64, "stop_epoch": 2, "extrapolate": True, "score": "ap"}
    config = _like(recorded, tmp_path / "tuned", proxy=proxy)
    reference = config.schedule("reference")
    assert (reference.stop_epoch, reference.extrapolate, reference.epochs) == (None, False, 3)
    assert config.schedule("proxy").stop_epoch == 2
    calibration = Calibration(config, prepare=False)
    copies = calibration._reused(calibration.jobs)
    assert len([r for r in copies if r.schedule == "reference"]) == 16
    assert calibration.misses(calibration.jobs, copies) == []
    assert reference_flag("synth_images", 600) == "--reference-images 600"
    assert reference_flag("backbone", "resnet18") == "--proxy-backbone resnet18"
    assert reference_flag("synth_val_fraction", 0.5) == "synth_val_fraction 0.5 (no option " \
                                                        "sets it)"


def test_both_numerics_of_the_proxy_train_on_the_same_seeds(recorded, tmp_path):
    """The bf16 proxy calibrated beside the fp32 one (--proxy-amp on --proxy-channels-last on,
    --reference-from it) trains every architecture on the seeds the fp32 one did: the paired
    comparison of --tune compares the numerics alone."""
    fp32 = Calibration(resumed_config(recorded), resume=True, prepare=False)
    proxy = {**resumed_config(recorded).proxy, "amp": "on", "channels_last": "on"}
    # as the command line gives it: the reference's numerics always set (decided from auto)
    reference = {**resumed_config(recorded).reference, "amp": "off", "channels_last": "off"}
    bf16 = Calibration(_like(recorded, tmp_path / "bf16", proxy=proxy, reference=reference),
                       prepare=False)
    assert bf16.config.schedule("proxy").config.amp == "on"
    assert bf16.config.schedule("reference").config.amp == "off"  # the recorded reference's
    proxy_jobs = [job for job in bf16.jobs if job.schedule == "proxy"]
    assert [bf16._task(job, 0).seed for job in proxy_jobs] == [
        fp32._task(job, 0).seed for job in fp32.jobs if job.schedule == "proxy"]
    assert {record.schedule for record in bf16._reused(bf16.jobs)} == {"reference"}


def test_a_proxy_stopped_early_may_train_the_reference_schedule(tmp_path):
    """The reference schedule stopped after epoch 1 (a rung --tune may choose), calibrated as a
    proxy in other numerics to give that rung a twin: it trains less than the reference, so it
    is a proxy; the same schedule unstopped is not."""
    from nasfpn_cli.search.calibration import training_work

    stopped = CalibrationConfig(tmp_path / "e1", proxy={"epochs": 12, "synth_images": 600,
                                                        "score": "ap", "stop_epoch": 1})
    stopped.check()
    assert training_work(stopped.schedule("proxy")) * 12 == training_work(
        stopped.schedule("reference"))
    whole = CalibrationConfig(tmp_path / "e12", proxy={"epochs": 12, "synth_images": 600})
    with pytest.raises(Exception, match="no longer than the proxy"):
        whole.check()
