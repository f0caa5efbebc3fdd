"""``search --resume -o DIR`` continues to the stored --trials target, and a refused resume
changes no file."""
from __future__ import annotations

import json

import pytest

SEARCH = ["search", "--reward", "similarity:nasfpn", "--controller", "random", "--space", "paper"]


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


# (a setting search.json keeps beside the identity, its first value, a new one): a --resume
# without it keeps the stored value (D13: --final-top-k 0 was forgotten, 20 extra scorings ran),
# one given on --resume is stored
STORED_SETTINGS = [("--trials", "4", "7"), ("--final-top-k", "0", "2"),
                   ("--final-seeds", "0", "1")]


@pytest.mark.parametrize("option, first, new", STORED_SETTINGS)
def test_a_setting_given_on_resume_is_stored_and_one_left_out_kept(run, tmp_path, option,
                                                                   first, new):
    out = tmp_path / "search"
    key = option[2:].replace("-", "_")
    base = {"--trials": "4", "--final-top-k": "0", "--final-seeds": "0", option: first}
    assert run(*SEARCH, *(word for pair in base.items() for word in pair), "-o", out)[0] == 0
    assert run("search", "--resume", "--trials", "5", "-o", out)[0] == 0
    stored = json.loads((out / "search.json").read_text())
    assert stored[key] == (5 if key == "trials" else int(first))
    assert not (out / "final.jsonl").exists()  # no final selection: it was turned off
    assert run("search", "--resume", option, new, "-o", out)[0] == 0
    assert json.loads((out / "search.json").read_text())[key] == int(new)
    assert run("search", "--resume", "-o", out)[0] == 0  # nothing left to do
    assert _trials(out) == (int(new) if key == "trials" else 5)


def test_searches_written_before_the_target_was_stored_keep_the_old_default(tmp_path):
    from nasfpn_cli.search.runner import resumed_config

    out = tmp_path / "old"
    out.mkdir()
    from nasfpn_cli.search.runner import SearchConfig

    (out / "search.json").write_text(json.dumps({"identity": SearchConfig(out).identity()}))
    assert resumed_config(out).trials == 100


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _garbage_state(out, run, tmp_path):
    (out / "state.pt").write_bytes(b"garbage")


def _trials_lost_a_line(out, run, tmp_path):
    lines = (out / "trials.jsonl").read_bytes().split(b"\n")
    (out / "trials.jsonl").write_bytes(b"\n".join(lines[1:]))


def _config_not_an_object(out, run, tmp_path):
    (out / "search.json").write_text("[]")


def _state_of_another_search(out, run, tmp_path):
    """state.pt copied from a search of the same settings but another seed (D12)."""
    other = tmp_path / "other"
    assert run(*SEARCH, "--trials", "5", "--seed", "2", "-o", other)[0] == 0
    (out / "state.pt").write_bytes((other / "state.pt").read_bytes())


def _controller_edited(out, run, tmp_path):
    """search.json edited to another controller under the first one's state.pt (D12)."""
    config = json.loads((out / "search.json").read_text())
    config["identity"]["controller"] = "evolution"
    (out / "search.json").write_text(json.dumps(config))


# damage -> (what it does to a finished search, the flags its resume is given)
REFUSED_RESUMES = {
    "state": (_garbage_state, []),
    "trials": (_trials_lost_a_line, []),
    "settings": (None, ["--seed", "9"]),
    "config": (_config_not_an_object, []),
    "state of another search": (_state_of_another_search, []),
    "controller edited": (_controller_edited, []),
}


@pytest.mark.parametrize("damage", list(REFUSED_RESUMES))
def test_a_refused_resume_changes_no_file(run, tmp_path, damage):
    out = tmp_path / "search"
    assert run(*SEARCH, "--trials", "5", "-o", out)[0] == 0
    with open(out / "trials.jsonl", "ab") as handle:  # a torn last line, as a kill leaves it
        handle.write(b'{"step": 5, "tri')
    change, extra = REFUSED_RESUMES[damage]
    if change is not None:
        change(out, run, tmp_path)
    before = _snapshot(out)
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
