"""The genotype commands end to end: output, exit codes (0 ok / 1 invalid / 2 usage), located
messages and never a traceback; the torch-free promise is checked in a fresh interpreter."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap

import pytest

from .helpers import ROOT, run_main

VALID = "genotype tiny\ninputs P3 P4\noutputs P3 P4\n\na = sum(P3, P4) @ P3 -> out\nb = gp(a, P4) @ P4 -> out\n"
INVALID = "inputs P3 P4\noutputs P3 P4\na = sum(P3, nope) @ P3 -> out\nb = gp(a, P4, P3) @ P4 -> out\n"


@pytest.fixture
def files(tmp_path):
    """A folder with a valid, an invalid, an unformatted and some odd files."""
    (tmp_path / "valid.txt").write_text(VALID)
    (tmp_path / "invalid.txt").write_text(INVALID)
    (tmp_path / "messy.txt").write_text("genotype   tiny\n\n\na=sum(P3,P4)@P3->out\n"
                                        "b = gp(a , P4)@P4 -> out\n"
                                        "inputs P3 P4\noutputs P3 P4\n")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\xff\x00\x01")
    (tmp_path / "crlf.txt").write_bytes(VALID.replace("\n", "\r\n").encode())
    (tmp_path / "syntax.txt").write_text("a = sum(P3 P4) @ P3 -> out\nb = gp(a, P4) @ P4 -> out\n"
                                         "c = sum(a, b) @ P5 ->\n")
    (tmp_path / "folder").mkdir()
    return tmp_path


def assert_clean_failure(code: int, err: str, expected_code: int = 1) -> None:
    assert code == expected_code, err
    assert "Traceback" not in err and "internal error" not in err


def test_validate_summary_and_exit_codes(capsys, files) -> None:
    code, out, err = run_main(capsys, "validate", "nasfpn", str(files / "valid.txt"))
    assert code == 0 and err == ""
    assert out.splitlines() == [
        "nasfpn: valid, 7 cells (gp 4, sum 3), levels P3-P7, outputs P3=n3 P4=n4 P5=n5 P6=n7 "
        "P7=n6",
        f"{files / 'valid.txt'}: valid, 2 cells (sum 1, gp 1), levels P3-P4, outputs P3=a P4=b",
    ]


def test_validate_reports_all_errors_located_and_sorted(capsys, files) -> None:
    path = files / "invalid.txt"
    code, out, err = run_main(capsys, "validate", str(path), "fpn")
    assert_clean_failure(code, err)
    assert out.startswith("fpn: valid")
    assert err.splitlines() == [
        f"{path}:3:13: error: undefined reference 'nope'",
        "    a = sum(P3, nope) @ P3 -> out",
        "                ^~~~",
        f"{path}:4:5: error: 'gp' takes exactly 2 inputs, got 3",
        "    b = gp(a, P4, P3) @ P4 -> out",
        "        ^~",
        f"{path}: invalid (2 errors)",
    ]


def test_validate_json(capsys, files) -> None:
    code, out, err = run_main(capsys, "validate", "--json", "nasfpn", str(files / "invalid.txt"))
    assert code == 1 and err == ""
    report = json.loads(out)
    assert report["valid"] is False
    good, bad = report["files"]
    assert good["valid"] and good["cells"] == 7 and good["ops"] == {"gp": 4, "sum": 3}
    assert good["outputs"] == {"P3": "n3", "P4": "n4", "P5": "n5", "P6": "n7", "P7": "n6"}
    assert [(e["line"], e["column"]) for e in bad["errors"]] == [(3, 13), (4, 5)]


@pytest.mark.parametrize("name, first_line", [
    ("missing.txt", "{dir}/missing.txt: error: no such file or bundled genotype"),
    ("folder", "{dir}/folder: error: is a directory, not a genotype file"),
    ("empty.txt", "{dir}/empty.txt:1:1: error: the genotype defines no cells"),
    ("binary.txt", "{dir}/binary.txt:1:1: error: byte 0x89 is not UTF-8 text; is this a genotype "
                   "file?"),
    ("syntax.txt", "{dir}/syntax.txt:1:12: error: unexpected 'P4'; expected ')' or ','"),
])
def test_validate_bad_inputs_exit_1_with_a_located_message(capsys, files, name, first_line) -> None:
    code, out, err = run_main(capsys, "validate", str(files / name))
    assert_clean_failure(code, err)
    assert err.splitlines()[0] == first_line.format(dir=files)


def test_every_syntax_error_is_listed(capsys, files) -> None:
    code, _, err = run_main(capsys, "validate", str(files / "syntax.txt"))
    assert_clean_failure(code, err)
    assert [line.split(": error")[0].rsplit(":", 2)[1:] for line in err.splitlines()
            if ": error:" in line] == [["1", "12"], ["3", "22"]]


def test_crlf_file_is_valid(capsys, files) -> None:
    assert run_main(capsys, "validate", str(files / "crlf.txt"))[0] == 0


def test_usage_errors_exit_2(capsys, files) -> None:
    assert run_main(capsys, "validate")[0] == 2
    assert run_main(capsys, "validate", "--bogus", "nasfpn")[0] == 2
    code, _, err = run_main(capsys, "fmt", "--check", "--write", str(files / "valid.txt"))
    assert_clean_failure(code, err, 2)
    code, _, err = run_main(capsys, "draw", "nasfpn", "-o", str(files / "x.jpg"))
    assert_clean_failure(code, err, 2)
    code, _, err = run_main(capsys, "convert", "nasfpn")
    assert_clean_failure(code, err, 2)
    assert "--to" in err


def test_list_shows_bundled_genotypes(capsys) -> None:
    code, out, _ = run_main(capsys, "list")
    assert code == 0
    for name in ("nasfpn", "fpn", "panet", "bifpn"):
        assert name in out
    assert "NAS-FPN: the 7-cell pyramid" in out and "gp 4, sum 3" in out


def test_show_table(capsys, files) -> None:
    code, out, _ = run_main(capsys, "show", "nasfpn")
    assert code == 0
    row = next(line for line in out.splitlines() if " n5 " in line)
    assert "gp" in row and "n3 (pool /4), n4 (pool /2)" in row and "P5" in row
    code, _, err = run_main(capsys, "show", str(files / "invalid.txt"))
    assert_clean_failure(code, err)
    assert f"{files / 'invalid.txt'}:3:13: error: undefined reference 'nope'" in err


def test_fmt_stdout_check_and_atomic_write(capsys, files) -> None:
    messy = files / "messy.txt"
    code, out, _ = run_main(capsys, "fmt", str(messy))
    assert code == 0
    assert out == ("genotype tiny\n\na = sum(P3, P4) @ P3 -> out\nb = gp(a, P4) @ P4 -> out\n"
                   "inputs P3 P4\noutputs P3 P4\n")
    code, _, err = run_main(capsys, "fmt", "--check", str(messy), str(files / "valid.txt"))
    assert code == 1 and f"would reformat {messy}" in err
    messy.chmod(0o640)
    code, _, err = run_main(capsys, "fmt", "--write", str(messy))
    assert code == 0 and f"reformatted {messy}" in err
    assert messy.read_text() == out and (messy.stat().st_mode & 0o777) == 0o640
    assert not [p for p in files.iterdir() if p.name.startswith(".")]  # no temp file left
    assert run_main(capsys, "fmt", "--check", str(messy))[0] == 0
    code, _, err = run_main(capsys, "fmt", str(files / "syntax.txt"))
    assert_clean_failure(code, err)
    assert f"{files / 'syntax.txt'}:1:12: error:" in err


def test_draw_svg_and_dot(capsys, files, tmp_path) -> None:
    code, out, err = run_main(capsys, "draw", "nasfpn", "-o", str(tmp_path / "n.dot"),
                              "--stack", "2")
    assert code == 0, err
    assert "s2_n7" in (tmp_path / "n.dot").read_text()
    code, _, err = run_main(capsys, "draw", str(files / "invalid.txt"), "-o",
                            str(tmp_path / "bad.svg"))
    assert_clean_failure(code, err)
    assert not (tmp_path / "bad.svg").exists()


def test_draw_without_graphviz_writes_dot_and_explains(capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    code, _, err = run_main(capsys, "draw", "fpn", "-o", str(tmp_path / "fpn.svg"))
    assert_clean_failure(code, err)
    assert "'dot' program is not installed" in err and "apt-get install graphviz" in err
    assert f"dot -Tsvg {tmp_path / 'fpn.dot'} -o {tmp_path / 'fpn.svg'}" in err
    assert (tmp_path / "fpn.dot").read_text().startswith("digraph pyramid {")
    assert not (tmp_path / "fpn.svg").exists()


def test_convert_round_trip_through_files(capsys, tmp_path) -> None:
    specs, as_json, dsl = tmp_path / "n.py", tmp_path / "n.json", tmp_path / "n.txt"
    code, _, err = run_main(capsys, "convert", "nasfpn", "-o", str(specs))
    assert code == 0 and "cannot record the name 'nasfpn'" in err
    assert ast.literal_eval(specs.read_text())[0] == (4, "attention", (1, 3), False)
    assert run_main(capsys, "convert", str(specs), "--to", "json", "-o", str(as_json))[0] == 0
    assert json.loads(as_json.read_text())["cells"][0]["op"] == "gp"
    code, out, _ = run_main(capsys, "convert", str(as_json), "--from", "json", "--to", "dsl")
    assert code == 0 and "n1 = gp(P4, P6) @ P4" in out
    dsl.write_text(out)
    code, out, _ = run_main(capsys, "convert", str(dsl), "--to", "block-specs")
    assert out == specs.read_text()


def test_convert_errors_are_located(capsys, tmp_path) -> None:
    code, _, err = run_main(capsys, "convert", "bifpn", "--to", "block-specs")
    assert_clean_failure(code, err)
    assert "cannot write bifpn as block-specs (8 problems)" in err
    assert "bifpn.txt:8:6: error: block specs have no 'wsum' op" in err
    bad = tmp_path / "bad.json"
    bad.write_text('{"cells": [{"name": "a", "op": "sum", "inputs": ["P3"], "level": "P3", '
                   '"output": true}], "inputs": ["P3", "P4"], "outputs": ["P3"]}')
    code, _, err = run_main(capsys, "convert", str(bad), "--to", "dsl")
    assert_clean_failure(code, err)
    assert f"invalid genotype {bad} (1 error):\n{bad}:1:32: error: 'sum' takes 2 or more " \
           "inputs, got 1" in err


SUBPROCESS_CHECK = textwrap.dedent("""
    import json, sys, tempfile, os
    from nasfpn_cli.cli import main
    out = tempfile.mkdtemp()
    runs = [["--help"], ["list"], ["validate", "nasfpn"], ["show", "nasfpn"], ["fmt", "fpn"],
            ["draw", "nasfpn", "-o", os.path.join(out, "n.dot")],
            ["convert", "nasfpn", "--to", "json"], ["validate", "no-such-genotype"]]
    codes = []
    validate_only = None
    for args in runs:
        try:
            main(args)
        except SystemExit as exc:
            codes.append(exc.code)
        if args == ["validate", "nasfpn"]:
            validate_only = sorted(m for m in ("lark", "networkx", "torch") if m in sys.modules)
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision"))
    print(json.dumps({"codes": codes, "heavy": heavy, "validate_only": validate_only}))
""")


def test_genotype_commands_never_import_torch() -> None:
    result = subprocess.run([sys.executable, "-c", SUBPROCESS_CHECK], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["codes"] == [0, 0, 0, 0, 0, 0, 0, 1]
    assert report["heavy"] == []
    assert report["validate_only"] == []  # validate of a valid file needs neither lark nor networkx
    assert "Traceback" not in result.stderr


def test_real_process_error_has_no_traceback(tmp_path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("a = (\n")
    result = subprocess.run([sys.executable, "-m", "nasfpn_cli", "validate", str(bad)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.startswith(f"{bad}:1:5: error: unexpected '('; expected a name\n")
    assert "Traceback" not in result.stderr
