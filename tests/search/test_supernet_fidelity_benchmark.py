"""benchmarks/supernet_fidelity.py's guards: the calibrations must have generated their proxy
data as the supernet does and share one reference schedule; an --out written for other proxy
settings is refused (the proxy would silently reuse its data)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from nasfpn_cli.search.rewards.proxy import ProxySettings

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import supernet_fidelity as bench  # noqa: E402

DIGITS = ProxySettings.from_options({}).to_dict()
SHAPES = ProxySettings.from_options({"synth_kind": "shapes"}).to_dict()


def test_a_calibration_on_other_data_is_refused():
    shapes = bench.RUNS / "calibration-curves-shapes"
    digits = [bench.RUNS / "calibration-default", bench.RUNS / "search-small"]
    assert bench.check_calibrations([shapes], SHAPES)["synth_images"] == 600
    assert bench.check_calibrations(digits, DIGITS)["epochs"] == 12
    with pytest.raises(SystemExit, match="synth_kind: 'shapes' there, 'digits' here"):
        bench.check_calibrations([shapes], DIGITS)
    with pytest.raises(SystemExit, match="synth_kind: 'digits' there, 'shapes' here"):
        bench.check_calibrations(digits[:1], SHAPES)
    with pytest.raises(SystemExit, match="only generated shapes data"):
        bench.check_calibrations(digits[1:], SHAPES)


def test_another_reference_schedule_is_refused(tmp_path):
    source = bench.RUNS / "calibration-curves-shapes" / "calibration.json"
    record = json.loads(source.read_text())
    record["settings"]["reference"]["epochs"] = 24
    (tmp_path / "calibration.json").write_text(json.dumps(record))
    with pytest.raises(SystemExit, match="epochs: 24 vs 12"):
        bench.check_calibrations([source.parent, tmp_path], SHAPES)


def test_an_out_folder_of_other_proxy_settings_is_refused(tmp_path):
    bench.check_out(tmp_path / "a", DIGITS)
    bench.check_out(tmp_path / "a", DIGITS)  # the same settings: reused
    with pytest.raises(SystemExit, match="synth_kind: 'digits' there, 'shapes' here"):
        bench.check_out(tmp_path / "a", SHAPES)
    (tmp_path / "b" / "proxy_data").mkdir(parents=True)
    with pytest.raises(SystemExit, match="unknown settings"):
        bench.check_out(tmp_path / "b", SHAPES)


def test_rescore_reprints_a_recorded_table(capsys):
    bench.rescore(bench.RUNS / "supernet-fidelity-shapes-seed0",
                  [bench.RUNS / "calibration-curves-shapes"])
    printed = capsys.readouterr().out
    assert "| reference AP | supernet loss | 5 | 0.80 [0.12, 1.00] |" in printed
    with pytest.raises(SystemExit, match="synth_kind: 'digits' there, 'shapes' here"):
        bench.rescore(bench.RUNS / "supernet-fidelity-shapes-seed0",
                      [bench.RUNS / "calibration-default"])
