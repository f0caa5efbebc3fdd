"""Folders written before the search's house moved (issue 27) still resume and report: copies of
docs/runs folders as they were on 2026-12-06 (a search with its final selection, a K = 16
calibration), pinned here so that later records cannot change what is tested."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from nasfpn_cli.search.calibration import Calibration, resumed_config as calibration_config
from nasfpn_cli.search.final import load_final
from nasfpn_cli.search.results import load_trials
from nasfpn_cli.search.runner import resumed_config
from nasfpn_cli.search.space import SearchSpace

STORED = Path(__file__).parent / "stored"
RUNS = Path(__file__).parents[2] / "docs" / "runs"


def copy(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(STORED / name, tmp_path / name))


def test_an_older_search_reports_and_would_resume_with_its_stored_settings(cli, tmp_path):
    out = copy("search-small-shapes", tmp_path)
    stored = json.loads((out / "search.json").read_text())["identity"]
    config = resumed_config(out)
    assert json.loads(json.dumps(config.identity())) == stored  # what --resume compares
    assert isinstance(config.space, SearchSpace) and config.seeds == ()
    final = load_final(out, load_trials(out))
    assert len(final) == 10 and final[0].mean >= final[-1].mean
    report = cli("search", "report", str(out), "--top", "3", "--genotypes-dir",
                 str(tmp_path / "found"))
    assert report.returncode == 0, report.stderr
    assert "final selection" in report.stdout and final[0].hash in report.stdout
    assert "against the anchors" not in report.stdout  # an unseeded search has none
    assert sorted(p.name for p in (tmp_path / "found").iterdir()) == [
        "found1.txt", "found2.txt", "found3.txt"]


def test_an_older_calibration_loads_summarizes_and_tunes(cli, tmp_path):
    out = copy("calibration-k16-digits", tmp_path)
    config = calibration_config(out)
    assert config.schedule("reference").epochs == 12 and len(config.bundled) == 6
    calibration = Calibration(config, resume=True, prepare=False)
    assert len(calibration.architectures) == 16
    result = calibration.summarize()
    recorded = json.loads((RUNS / "calibration-k16-digits" / "calibration.json").read_text())
    assert result.to_dict()["fidelity"] == recorded["fidelity"]  # the same figures, recomputed
    tuned = cli("search", "calibrate", "--tune", "-o", str(out))
    assert tuned.returncode == 0, tuned.stderr
    assert (out / "tuning.json").is_file() and "proxy ladder" in tuned.stdout


def test_an_older_calibration_keeps_its_fingerprints_and_fp32_numerics(monkeypatch):
    """No amp in its plan: fp32 and contiguous on both sides, on any machine, and the schedule
    fingerprints a --reference-from matches on are the ones it had (amp and channels_last became
    modes since; a new reference copies its trainings only when it runs fp32 too)."""
    from nasfpn_cli.engine import precision
    from nasfpn_cli.search.calibration import _fingerprints

    monkeypatch.delenv(precision.NO_NATIVE_BF16_ENV, raising=False)
    monkeypatch.setattr(precision, "_cpu_has_native_bf16", lambda: True)
    config = calibration_config(STORED / "calibration-k16-digits")
    for schedule in ("proxy", "reference"):
        settings = config.schedule(schedule)
        assert (settings.amp, settings.channels_last) == ("off", "off")
    assert _fingerprints(config) == {"proxy": "9b3fa35284c15b56",
                                     "reference": "e621e9f08b4045ef"}
