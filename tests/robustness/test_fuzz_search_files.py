"""The files a search and a calibration wrote, damaged later (issue 20): every value of
search.json, trials.jsonl, final.jsonl, plan.json and trainings.jsonl replaced by a hostile one.
Their readers (``search report``, ``search --resume``, ``search calibrate --tune``) either accept
the value or name the file, line and field, exit 1; never a crash (exit 3)."""
from __future__ import annotations

import copy
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parents[1] / "search"))
from test_tuning import write_toy_calibration  # noqa: E402

SETTINGS = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 40)), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
HOSTILE = [None, "yes", "", -1, 0.5, 1e308, -1e308, 10 ** 400, 2 ** 63, True, [], {}, [1, 2],
           {"a": "b"}, "x" * 300, "[bold]x[/bold]\x1b[2J", float("nan")]
SEARCH = ["search", "--reward", "similarity:nasfpn", "--controller", "random"]


def _leaves(value, path=()):
    """Every path into a JSON value, the root included."""
    yield path
    items = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        yield from _leaves(inner, (*path, key))


def _replaced(value, path, new):
    if not path:
        return new
    value = copy.deepcopy(value)
    inner = value
    for key in path[:-1]:
        inner = inner[key]
    inner[path[-1]] = new
    return value


def _damage_json(path: Path, choose, new) -> None:
    data = json.loads(path.read_text())
    paths = list(_leaves(data))
    path.write_text(json.dumps(_replaced(data, paths[choose % len(paths)], new)))


def _damage_line(path: Path, line: int, field: str, new) -> None:
    lines = path.read_text().splitlines()
    record = json.loads(lines[line % len(lines)])
    record[field] = new
    lines[line % len(lines)] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")


def _never_crashes(run, *args) -> tuple[int, str]:
    code, _, err = run(*args)
    assert code in (0, 1, 2), (args, err)
    assert "internal error" not in err and "Traceback" not in err, err
    return code, err


@pytest.fixture(scope="module")
def finished_search(tmp_path_factory) -> Path:
    from nasfpn_cli.cli import main

    out = tmp_path_factory.mktemp("fuzz-search") / "search"
    with pytest.raises(SystemExit) as done:
        main([*SEARCH, "--trials", "4", "--final-top-k", "2", "--final-seeds", "1", "-o",
              str(out)])
    assert done.value.code == 0
    return out


@pytest.fixture(scope="module")
def toy_calibration(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fuzz-calibration") / "calibration"
    write_toy_calibration(out)
    return out


def _copy(folder: Path, tmp_path: Path) -> Path:
    copied = tmp_path / "copy"
    shutil.rmtree(copied, ignore_errors=True)
    shutil.copytree(folder, copied)
    return copied


@SETTINGS
@given(choose=st.integers(0, 10 ** 6), new=st.sampled_from(HOSTILE),
       resume=st.booleans())
def test_search_json_damaged_anywhere(run, finished_search, tmp_path, choose, new, resume):
    folder = _copy(finished_search, tmp_path)
    _damage_json(folder / "search.json", choose, new)
    args = ["search", "--resume", "--trials", "5", "-o", folder] if resume else \
        ["search", "report", folder]
    code, err = _never_crashes(run, *args)
    if code == 1 and "search.json" in err:
        assert str(folder / "search.json") in err


TRIAL_FIELDS = ["step", "trial", "hash", "genotype", "reward", "seconds", "worker", "decisions",
                "cached", "error", "finished_at", "score", "macs", "rungs"]


@SETTINGS
@given(line=st.integers(0, 3), field=st.sampled_from(TRIAL_FIELDS), new=st.sampled_from(HOSTILE),
       resume=st.booleans())
def test_trials_jsonl_damaged_anywhere(run, finished_search, tmp_path, line, field, new, resume):
    folder = _copy(finished_search, tmp_path)
    _damage_line(folder / "trials.jsonl", line, field, new)
    args = ["search", "--resume", "--trials", "5", "-o", folder] if resume else \
        ["search", "report", folder]
    _never_crashes(run, *args)


@pytest.mark.parametrize("field, new", [("reward", 1e308), ("decisions", "12"),
                                        ("seconds", -1), ("genotype", ["x"]),
                                        ("step", 10 ** 400), ("cached", 1)])
def test_a_damaged_trial_names_file_line_and_field(run, finished_search, tmp_path, field, new):
    folder = _copy(finished_search, tmp_path)
    _damage_line(folder / "trials.jsonl", 1, field, new)
    code, err = _never_crashes(run, "search", "report", folder)
    assert code == 1 and f"{folder / 'trials.jsonl'}:2: field {field!r}: expected" in err, err


@SETTINGS
@given(line=st.integers(0, 1), field=st.sampled_from(["hash", "repeat", "seed", "reward",
                                                      "seconds", "worker", "error"]),
       new=st.sampled_from(HOSTILE))
def test_final_jsonl_damaged_anywhere(run, finished_search, tmp_path, line, field, new):
    folder = _copy(finished_search, tmp_path)
    _damage_line(folder / "final.jsonl", line, field, new)
    _never_crashes(run, "search", "report", folder)


@SETTINGS
@given(choose=st.integers(0, 10 ** 6), new=st.sampled_from(HOSTILE))
@example(choose=259, new=[])  # the space's levels emptied: once an internal error
def test_plan_json_damaged_anywhere(run, toy_calibration, tmp_path, choose, new):
    folder = _copy(toy_calibration, tmp_path)
    _damage_json(folder / "plan.json", choose, new)
    _never_crashes(run, "search", "calibrate", "--tune", "-o", folder)


TRAINING_FIELDS = ["architecture", "schedule", "seed_index", "seed", "score", "seconds", "worker",
                   "error", "finished_at", "curve"]


@SETTINGS
@given(line=st.integers(0, 23), field=st.sampled_from(TRAINING_FIELDS),
       new=st.sampled_from(HOSTILE))
def test_trainings_jsonl_damaged_anywhere(run, toy_calibration, tmp_path, line, field, new):
    folder = _copy(toy_calibration, tmp_path)
    _damage_line(folder / "trainings.jsonl", line, field, new)
    _never_crashes(run, "search", "calibrate", "--tune", "-o", folder)
