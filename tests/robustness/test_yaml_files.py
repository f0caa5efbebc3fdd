"""Hostile ``data.yaml`` files: every YAML the tool reads goes through one reader
(``nasfpn_cli.data.importers.safe_yaml``) that refuses alias bombs, repeated keys, deep nesting
and large files before a value exists, and the YOLO importer bounds what the values may make it
allocate (class counts). Each case: exit 1 quickly, naming the file (issue 30: H1, H2, U9, U11)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest


def _bomb(placement: str) -> str:
    text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for previous, name in zip("abcdefgh", "bcdefghi"):
        text += f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]\n"
    return text + placement


# case -> (data.yaml text, what the message says)
CASES = {
    "alias bomb in names": (_bomb("train: images/train\nnames: [*i, b]\n"), "alias bomb"),
    "alias bomb as nc": (_bomb("train: images/train\nnc: *i\n"), "alias bomb"),
    "alias bomb as path": (_bomb("path: *i\ntrain: images/train\nnames: [a]\n"), "alias bomb"),
    "alias bomb as train": (_bomb("train: *i\nnames: [a]\n"), "alias bomb"),
    "alias bomb as a name": (_bomb("train: images/train\nnames: {3: *i}\n"), "alias bomb"),
    "an alias inside itself": ("train: &t [images/train, *t]\nnames: [a]\n", "inside the value"),
    "nested 1000 deep": ("train: " + "[" * 1000 + "]" * 1000 + "\nnames: [a]\n", "levels deep"),
    "nc of 10^9": ("train: images/train\nnc: 1000000000\n", "nc is 1000000000"),
    "nc not a number": ("train: images/train\nnc: [1, 2]\n", "nc is [1, 2]"),
    "20,000 names": ("train: images/train\nnames: [" + ", ".join(["n"] * 20000) + "]\n",
                     "20000 classes"),
    "a class index of 10^12": ("train: images/train\nnames: {1000000000000: a}\n",
                               "not a class index"),
    "train given twice": ("train: images/train\ntrain: images/val\nnames: [a]\n",
                          "data.yaml:2: key 'train' given twice (first on line 1)"),
    "class 0 given twice": ("train: images/train\nnames: {0: a, '0': b}\n",
                            "names gives class 0 twice"),
    "path a list": ("path: [a, b]\ntrain: images/train\nnames: [a]\n", "path is ['a', 'b']"),
    "path a file": ("path: data.yaml\ntrain: images/train\nnames: [a]\n", "not a folder"),
    "path missing": ("path: nowhere\ntrain: images/train\nnames: [a]\n", "no such folder"),
    "two documents": ("train: images/train\n---\nnames: [a]\n", "invalid YAML"),
    "a control character": ("train: images/train\nnames: [a\x1f]\n",
                            "data.yaml:2: invalid YAML: character U+001F is not allowed"),
    "a python tag": ("train: !!python/object/apply:os.system [echo hi]\nnames: [a]\n",
                     "invalid YAML"),
}


def _dataset(root: Path, text: str) -> Path:
    (root / "images/train").mkdir(parents=True)
    (root / "data.yaml").write_text(text)
    return root


@pytest.mark.parametrize("text, message", CASES.values(), ids=CASES.keys())
def test_hostile_data_yaml_is_refused_quickly(run, tmp_path, text, message):
    root = _dataset(tmp_path / "yolo", text)
    started = time.monotonic()
    code, _, err = run("data", "import", "--from", "yolo", root, "-o", tmp_path / "out")
    assert code == 1, err
    assert time.monotonic() - started < 30  # the bomb expanded for a minute
    assert str(root / "data.yaml") in err and message in err and "Traceback" not in err
    assert len(err) < 2000  # no expanded value in the message


# kind: files that are not YAML text one can read
def test_a_fifo_data_yaml_is_refused_not_waited_on(run, tmp_path):
    root = tmp_path / "yolo"
    (root / "images/train").mkdir(parents=True)
    os.mkfifo(root / "d.yaml")
    code, _, err = run("data", "import", "--from", "yolo", root / "d.yaml", "-o", tmp_path / "o")
    assert code == 1 and "d.yaml: not a regular file" in err


def test_a_huge_data_yaml_is_not_read(run, tmp_path):
    root = _dataset(tmp_path / "yolo", "train: images/train\nnames: [a]\n# "
                    + "x" * (5 << 20) + "\n")
    code, _, err = run("data", "import", "--from", "yolo", root, "-o", tmp_path / "o")
    assert code == 1 and "larger than the" in err


def test_small_aliases_still_read(run, tmp_path):
    """Aliases as people use them (a shared list) are fine."""
    from nasfpn_cli.data.importers.safe_yaml import parse_yaml_text

    assert parse_yaml_text("a: &n [x, y]\nb: *n\n") == {"a": ["x", "y"], "b": ["x", "y"]}
