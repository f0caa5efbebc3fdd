"""``nasfpn data synth`` and ``nasfpn data check``: exit codes and messages, no tracebacks."""
from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    from cli_runner import run_cli

    out = tmp_path_factory.mktemp("cli") / "shapes"
    result = run_cli("data", "synth", str(out), "--num-images", "5", "--image-size", "64",
                     "--seed", "3", "--val-fraction", "0.4")
    assert result.returncode == 0, result.stderr
    assert "wrote 3 train and 2 val images" in result.stdout
    return out


def test_synth_then_check_is_clean(cli, synth_dir):
    assert sorted(p.name for p in (synth_dir / "train2017").iterdir()) == [
        "000000000001.png", "000000000002.png", "000000000003.png"]
    result = cli("data", "check", str(synth_dir / "annotations/instances_val2017.json"),
                 "--images", str(synth_dir / "val2017"))
    assert result.returncode == 0, result.stderr
    assert "2 images" in result.stdout and "no problems" in result.stdout


def test_check_reports_problems_as_json_and_exits_1(cli, synth_dir, tmp_path):
    data = json.loads((synth_dir / "annotations/instances_train2017.json").read_text())
    data["annotations"][0]["bbox"] = [1, 2]
    data["images"][0]["file_name"] = "gone.png"
    ann = tmp_path / "broken.json"
    ann.write_text(json.dumps(data))
    result = cli("data", "check", str(ann), "--images", str(synth_dir / "train2017"), "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert {p["kind"]: p["count"] for p in report["problems"]} == {"bbox-length": 1,
                                                                   "image-missing": 1}
    table = cli("data", "check", str(ann), "--images", str(synth_dir / "train2017"))
    assert table.returncode == 1 and "bbox-length" in table.stdout and "gone.png" in table.stdout


def test_check_of_a_missing_or_truncated_file_exits_1(cli, tmp_path):
    result = cli("data", "check", str(tmp_path / "none.json"), "--images", str(tmp_path))
    assert result.returncode == 1 and "no such annotation file" in result.stdout
    truncated = tmp_path / "t.json"
    truncated.write_text('{"images": [')
    result = cli("data", "check", str(truncated), "--images", str(tmp_path))
    assert result.returncode == 1 and "truncated JSON" in result.stdout
    assert "Traceback" not in result.stderr + result.stdout


def test_synth_refuses_a_foreign_non_empty_folder_and_bad_options(cli, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = cli("data", "synth", str(tmp_path), "--num-images", "2")
    assert result.returncode == 2
    assert "folder is not empty and holds no synthetic dataset" in result.stderr
    assert "--overwrite" in result.stderr
    result = cli("data", "synth", str(tmp_path / "x"), "--image-size", "8")
    assert result.returncode == 2 and "--image-size" in result.stderr
    assert "Traceback" not in result.stderr


def test_checking_and_synthesising_do_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, nasfpn_cli.data.checks, nasfpn_cli.data.synth, nasfpn_cli.commands.data;"
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
