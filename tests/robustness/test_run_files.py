"""Run-folder files damaged after the run wrote them (issue 20): ``compare``, ``plot``, ``train
--config RUN/config.json`` and ``--resume`` read config.json and metrics.jsonl through the
RunStore, which names the file, the line and the field (exit 1) instead of crashing (exit 3).
A last line torn by a kill is ignored; any other damaged line is an error (docs/robustness.md)."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nasfpn_cli.engine.run_store import RunStore
from nasfpn_cli.errors import NasfpnError, RunFileError

SETTINGS = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 150)), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
HOSTILE_VALUES = [None, "yes", "", -1, 0.5, 1e308, 10 ** 400, True, [], {}, [1, 2], {"a": "b"},
                  "x" * 300, "[bold]x[/bold]\x1b[2J"]


def _copy_run(tiny_run: Path, folder: Path) -> Path:
    """config.json and metrics.jsonl of the tiny run (enough for compare and plot)."""
    folder.mkdir()
    for name in ("config.json", "metrics.jsonl"):
        shutil.copy(tiny_run / name, folder / name)
    return folder


def _damage_line(run: Path, index: int, change) -> int:
    """Apply ``change`` to the record on line ``index`` (from 0) of metrics.jsonl; returns the
    line's number as messages show it (from 1)."""
    path = run / "metrics.jsonl"
    lines = path.read_text().splitlines()
    record = json.loads(lines[index])
    lines[index] = change(record)
    path.write_text("\n".join(lines) + "\n")
    return index + 1


def _refused_everywhere(run_cli, run: Path, tmp_path: Path, expected: str) -> None:
    """``plot`` and ``compare`` of ``run`` both exit 1 with ``expected`` and no traceback."""
    for args in (("plot", run, "-o", tmp_path / "plots"),
                 ("compare", run, "--latency-runs", "0", "-o", tmp_path / "page.html")):
        code, _, err = run_cli(*args)
        assert code == 1, (args, err)
        assert expected in " ".join(err.split()), (args, err)
        assert "Traceback" not in err and "internal error" not in err
    assert not (tmp_path / "page.html").exists()


@pytest.mark.parametrize("field, value, shown", [
    ("loss", "abc", "field 'loss': expected a finite number, got \"abc\""),
    ("lr", [1, 2], "field 'lr': expected a finite number, got [1, 2]"),
    ("kind", 3, "field 'kind': expected text, got 3"),
    ("epoch", 1.5, "field 'epoch': expected a whole number"),
])
def test_a_value_of_the_wrong_type_names_file_line_and_field(run, tiny_run, tmp_path, field,
                                                              value, shown):
    folder = _copy_run(tiny_run, tmp_path / "r")
    line = _damage_line(folder, 0, lambda r: json.dumps({**r, field: value}))
    _refused_everywhere(run, folder, tmp_path, f"{folder / 'metrics.jsonl'}:{line}: {shown}")


def test_a_record_without_step_is_named(run, tiny_run, tmp_path):
    folder = _copy_run(tiny_run, tmp_path / "r")
    line = _damage_line(folder, 1, lambda r: json.dumps({k: v for k, v in r.items()
                                                         if k != "step"}))
    _refused_everywhere(run, folder, tmp_path,
                        f"{folder / 'metrics.jsonl'}:{line}: field 'step': missing")


def test_a_400_digit_step_is_named_without_printing_it(run, tiny_run, tmp_path):
    folder = _copy_run(tiny_run, tmp_path / "r")
    line = _damage_line(folder, 0, lambda r: json.dumps(r).replace(
        f'"step": {r["step"]}', '"step": ' + "9" * 400))
    _refused_everywhere(run, folder, tmp_path,
                        f"{folder / 'metrics.jsonl'}:{line}: field 'step': expected a whole "
                        "number in 0..1000000000000, got a number of 400 digits")


def test_a_line_that_is_not_json_is_named_but_a_torn_last_line_is_ignored(run, tiny_run,
                                                                          tmp_path):
    folder = _copy_run(tiny_run, tmp_path / "r")
    metrics = folder / "metrics.jsonl"
    good = metrics.read_text()
    metrics.write_text(good + '{"kind": "train", "st')  # a kill in the middle of a write
    assert RunStore(folder).metrics() == [json.loads(line) for line in good.splitlines()]
    code, _, err = run("plot", folder, "-o", tmp_path / "plots")
    assert code == 0, err
    metrics.write_text('{"kind": "train", "st\n' + good)
    _refused_everywhere(run, folder, tmp_path, f"{metrics}:1: not a metrics record")


@pytest.mark.parametrize("change, shown", [
    (lambda c: c.pop("model"), "field 'model': missing"),
    (lambda c: c.pop("genotype_text"), "field 'genotype_text': missing"),
    (lambda c: c.update(train=[1]), "field 'train': expected an object, got [1]"),
    (lambda c: c.update(data="x"), "field 'data': expected an object, got \"x\""),
])
def test_a_config_json_missing_a_part_is_named(run, tiny_run, tmp_path, change, shown):
    folder = _copy_run(tiny_run, tmp_path / "r")
    config = json.loads((folder / "config.json").read_text())
    change(config)
    (folder / "config.json").write_text(json.dumps(config))
    code, _, err = run("compare", folder, "--latency-runs", "0", "-o", tmp_path / "page.html")
    assert code == 1 and f"{folder / 'config.json'}: {shown}" in " ".join(err.split()), err
    assert "Traceback" not in err


def test_a_config_json_that_is_not_json_is_named(run, tiny_run, tmp_path):
    folder = _copy_run(tiny_run, tmp_path / "r")
    (folder / "config.json").write_text('{"genotype_text": ')
    code, _, err = run("compare", folder, "--latency-runs", "0", "-o", tmp_path / "page.html")
    assert code == 1 and "not a nasfpn run configuration" in err and "Traceback" not in err


# `plot` of a folder with nothing to plot: (what its metrics.jsonl is, exit code). No run there
# is a usage error; a run whose metrics file holds no record is bad input (U10 of probe 2: 2)
NOTHING_TO_PLOT = [("missing", 2), ("", 1)]


@pytest.mark.parametrize("metrics, code", NOTHING_TO_PLOT)
def test_plot_of_nothing_to_plot(run, tiny_run, tmp_path, metrics, code):
    folder = _copy_run(tiny_run, tmp_path / "r")
    if metrics == "missing":
        (folder / "metrics.jsonl").unlink()
    else:
        (folder / "metrics.jsonl").write_text(metrics)
    exit_code, _, err = run("plot", folder, "-o", tmp_path / "plots")
    assert exit_code == code and "no metrics to plot" in err, err


@st.composite
def damaged_lines(draw, lines: list[str]) -> str:
    """metrics.jsonl with a few lines changed: a field set to a hostile value or removed, a
    line cut short, duplicated or replaced by random text."""
    lines = list(lines)
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["set", "delete", "cut", "duplicate", "text"]))
        try:
            record = json.loads(lines[index])
        except ValueError:
            record = None
        if kind in ("set", "delete") and isinstance(record, dict):
            field = draw(st.sampled_from(sorted(record) + ["per_class", "new"]))
            if kind == "set":
                record[field] = draw(st.sampled_from(HOSTILE_VALUES))
            else:
                record.pop(field, None)
            lines[index] = json.dumps(record)
        elif kind == "cut":
            lines[index] = lines[index][:draw(st.integers(0, len(lines[index])))]
        elif kind == "duplicate":
            lines.insert(index, lines[index])
        else:
            lines[index] = draw(st.text(max_size=40)).replace("\n", " ")
    return "\n".join(lines) + ("\n" if draw(st.booleans()) else "")


@pytest.fixture(scope="module")
def metrics_lines(tiny_run) -> list[str]:
    return (tiny_run / "metrics.jsonl").read_text().splitlines()


@pytest.fixture(scope="module")
def config_text(tiny_run) -> str:
    return (tiny_run / "config.json").read_text()


def test_damaged_metrics_are_read_checked_or_named(metrics_lines, config_text, tmp_path):
    """Whatever the damage, the readers either return records every chart can use or raise
    RunFileError naming the file and a line; the compare entry and the curves then build."""
    from nasfpn_cli.engine.plotting import _records
    from nasfpn_cli.report.entries import collect_entries
    from nasfpn_cli.report.charts import curves_svg

    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "config.json").write_text(config_text)

    @SETTINGS
    @given(text=damaged_lines(metrics_lines))
    def check(text: str) -> None:
        (folder / "metrics.jsonl").write_text(text)
        try:
            records = RunStore(folder).metrics()
        except RunFileError as exc:
            assert str(exc).startswith(f"{folder / 'metrics.jsonl'}:")
            return
        for record in records:
            assert isinstance(record["step"], int) and isinstance(record["kind"], str)
        entry, = collect_entries([str(folder)])
        curves_svg(entry.records, entry.name)
        try:
            _records(folder)
        except NasfpnError as exc:  # nothing to plot is a usage error, not a crash
            assert "no metrics to plot" in str(exc)

    check()


def test_damaged_run_configs_are_read_checked_or_named(config_text, tmp_path):
    """config.json with a part set to a hostile value or removed: the RunStore returns it with
    every part of its type, or raises RunFileError naming the file."""
    folder = tmp_path / "r"
    folder.mkdir()
    base = json.loads(config_text)

    @SETTINGS
    @given(part=st.sampled_from(sorted(base) + ["new"]), value=st.sampled_from(HOSTILE_VALUES),
           remove=st.booleans())
    def check(part: str, value, remove: bool) -> None:
        config = dict(base)
        if remove:
            config.pop(part, None)
        else:
            config[part] = value
        (folder / "config.json").write_text(json.dumps(config))
        try:
            stored = RunStore(folder).config()
        except RunFileError as exc:
            assert str(exc).startswith(f"{folder / 'config.json'}: field '{part}'")
            return
        assert isinstance(stored["genotype_text"], str) and isinstance(stored["train"], dict)

    check()
