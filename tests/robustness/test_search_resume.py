"""``search --resume -o DIR`` continues to the stored --trials target, and a refused resume
changes no file."""
from __future__ import annotations

import json

import pytest

SEARCH = ["search", "--reward", "similarity:nasfpn", "--controller", "random"]


def _trials(out):
    return len((out / "trials.jsonl").read_text().splitlines())


def _hashes(out):
    return [json.loads(line)["hash"] for line in (out / "trials.jsonl").read_text().splitlines()]


def test_resume_continues_to_the_stored_target(run, tmp_path):
    out = tmp_path / "search"
    stopped = tmp_path / "stopped"
    assert run(*SEARCH, "--trials", "12", "-o", out)[0] == 0
    assert json.loads((out / "search.json").read_text())["trials"] == 12
    # a search stopped half way (as after a kill): its files say 6 done of a target of 12
    assert run(*SEARCH, "--trials", "6", "-o", stopped)[0] == 0
    config = json.loads((stopped / "search.json").read_text())
    (stopped / "search.json").write_text(json.dumps({**config, "trials": 12}))
    code, _, err = run("search", "--resume", "-o", stopped)
    assert code == 0, err
    assert _trials(stopped) == 12
    assert _hashes(stopped) == _hashes(out)  # the same trials as a search never stopped


def test_a_new_target_given_on_resume_is_stored(run, tmp_path):
    out = tmp_path / "search"
    assert run(*SEARCH, "--trials", "4", "-o", out)[0] == 0
    assert run("search", "--resume", "--trials", "7", "-o", out)[0] == 0
    assert _trials(out) == 7
    assert json.loads((out / "search.json").read_text())["trials"] == 7
    assert run("search", "--resume", "-o", out)[0] == 0  # nothing left to do
    assert _trials(out) == 7


def test_searches_written_before_the_target_was_stored_keep_the_old_default(tmp_path):
    from nasfpn_cli.search.runner import resumed_config

    out = tmp_path / "old"
    out.mkdir()
    from nasfpn_cli.search.runner import SearchConfig

    (out / "search.json").write_text(json.dumps({"identity": SearchConfig(out).identity()}))
    assert resumed_config(out).trials == 100


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize("damage", ["state", "trials", "settings", "config"])
def test_a_refused_resume_changes_no_file(run, tmp_path, damage):
    out = tmp_path / "search"
    assert run(*SEARCH, "--trials", "5", "-o", out)[0] == 0
    with open(out / "trials.jsonl", "ab") as handle:  # a torn last line, as a kill leaves it
        handle.write(b'{"step": 5, "tri')
    if damage == "state":
        (out / "state.pt").write_bytes(b"garbage")
    elif damage == "trials":
        lines = (out / "trials.jsonl").read_bytes().split(b"\n")
        (out / "trials.jsonl").write_bytes(b"\n".join(lines[1:]))
    elif damage == "config":
        (out / "search.json").write_text("[]")
    before = _snapshot(out)
    extra = ["--seed", "9"] if damage == "settings" else []
    code, _, err = run("search", "--resume", "--trials", "9", *extra, "-o", out)
    assert code in (1, 2), err
    assert "internal error" not in err
    assert _snapshot(out) == before


def _damage_decisions(out):
    lines = (out / "trials.jsonl").read_text().splitlines()
    record = json.loads(lines[0])
    record["decisions"] = [99999, 5]
    (out / "trials.jsonl").write_text("\n".join([json.dumps(record), *lines[1:]]) + "\n")


def _damage_reward(out):
    lines = (out / "trials.jsonl").read_text().splitlines()
    record = json.loads(lines[0])
    lines[0] = json.dumps(record).replace(json.dumps(record["reward"]), "NaN", 1)
    (out / "trials.jsonl").write_text("\n".join(lines) + "\n")


def _damage_space(out):
    (out / "search.json").write_text(json.dumps({"identity": {"space": {"cells": "x"}}}))


@pytest.mark.parametrize("damage, message", [
    (_damage_decisions, "trials.jsonl:1: trial 0: expected 28 decisions"),
    (_damage_reward, "trials.jsonl:1: field 'reward': expected a finite number in -1e+12..1e+12, got NaN"),
    (_damage_space, "search.json: identity: field 'controller': missing"),
])
@pytest.mark.parametrize("command", ["report", "resume"])
def test_damaged_search_files_are_located_errors(run, tmp_path, damage, message, command):
    out = tmp_path / "search"
    assert run(*SEARCH, "--trials", "3", "-o", out)[0] == 0
    damage(out)
    args = ["search", "report", out] if command == "report" else ["search", "--resume", "-o", out]
    code, _, err = run(*args)
    assert code == 1 and message in err, err
    assert "internal error" not in err


# (options of the first search, options given to its --resume, the flags the refusal names:
# none, it resumes). An option left out takes the stored value, so only a given one differs.
RESUME_OPTIONS = [
    (["--seed", "5"], [], []),  # U1 of the round-4 probe: blamed --controller, --reward
    (["--seed", "5"], ["--controller", "random", "--reward", "similarity:nasfpn"], []),
    (["--seed", "5"], ["--seed", "0"], ["--seed"]),
    ([], ["--controller", "evolution", "--seed", "4"], ["--controller", "--seed"]),
    ([], ["--reward", "similarity:fpn", "--seed", "0"], ["--reward"]),
    ([], ["--population-size", "5"], ["--population-size"]),  # another controller's option
    ([], ["--proxy-epochs", "3"], ["--proxy-epochs"]),  # another reward's option
    ([], ["--cells", " 7 ", "--space", "paper"], []),  # typed otherwise, the same search
    ([], ["--paper-constraints"], ["--paper-constraints"]),
]


@pytest.mark.parametrize("first, resumed, named", RESUME_OPTIONS)
def test_a_refused_resume_names_exactly_the_options_that_differ(run, tmp_path, first, resumed,
                                                                 named):
    out = tmp_path / "search"
    base = [*SEARCH, "--space", "paper", "--trials", "2", "--final-top-k", "0"]
    assert run(*base, *first, "-o", out)[0] == 0
    code, _, err = run("search", "--resume", *resumed, "-o", out)
    if not named:
        assert code == 0, err
        return
    assert code == 2, err
    listed = err.split("which win; ", 1)[1].split(" differ", 1)[0]
    assert listed.split(", ") == named, err
