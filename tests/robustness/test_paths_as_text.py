"""Paths and names from outside printed as one line of text (issue 30: S2, U12, U15, and the
weights cache's leftovers): a newline in a path can never forge a line such as ``error: ...``;
a printed command stays one line a shell reads back as the same words; markup is never shown
as literal ``[dim]`` text; the temporary files of a killed download are swept."""
from __future__ import annotations

import os
import subprocess
import time

import pytest

from nasfpn_cli.untrusted import shell_word, shown_path

FORGED = "\nerror: fake line"


def _no_forged_line(text: str) -> None:
    assert not any(line.startswith("error: fake") for line in text.splitlines()), text
    assert "\\nerror: fake line" in text, text


@pytest.mark.parametrize("word", ["plain", "a b", "it's", "out put\nerror: x", "tab\there",
                                  "esc\x1b[2J", "quote'\nnew", "back\\slash\n"])
def test_a_shell_word_is_one_line_that_bash_reads_back(word):
    quoted = shell_word(word)
    assert "\n" not in quoted
    echoed = subprocess.run(["bash", "-c", f"printf %s {quoted}"], capture_output=True,
                            text=True, check=True).stdout
    assert echoed == word


def test_shown_path_escapes_every_line_break():
    assert shown_path("a\nb\rc\td\u2028e") == "a\\nb\\rc\\td\\u2028e"


def _voc(root):
    from PIL import Image

    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    Image.new("RGB", (40, 30)).save(root / "JPEGImages" / "a.jpg")
    (root / "Annotations" / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename><size><width>40</width><height>30</height>"
        "</size><object><name>cat</name><bndbox><xmin>2</xmin><ymin>3</ymin><xmax>20</xmax>"
        "<ymax>25</ymax></bndbox></object></annotation>")
    return root


def _import_into_a_forged_folder(run, tmp_path, monkeypatch):
    code, out, err = run("data", "import", "--from", "voc", _voc(tmp_path / "voc"), "-o",
                         tmp_path / f"out put{FORGED}")
    assert code == 0, err
    return out + err


def _weights_list_with_a_forged_cache(run, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / f"th{FORGED}"))
    monkeypatch.delitem(__import__("sys").modules, "torch.hub", raising=False)
    code, out, err = run("weights", "list")
    assert code == 0, err
    return out + err


def _url_with_a_newline(run, tmp_path, monkeypatch):
    from nasfpn_cli.errors import ModelError
    from nasfpn_cli.modeling.pretrained import fetch

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    monkeypatch.delitem(__import__("sys").modules, "torch.hub", raising=False)
    with pytest.raises(ModelError) as caught:
        fetch("http://127.0.0.1:9/a%0Aerror: fake line.pth", progress=False, timeout=2)
    return caught.value.render()


def _search(run, folder):
    assert run("search", "--reward", "similarity:nasfpn", "--controller", "random", "--trials",
               "2", "--final-top-k", "0", "-o", folder)[0] == 0
    return folder


def _report_into_a_forged_genotypes_dir(run, tmp_path, monkeypatch):
    code, out, err = run("search", "report", _search(run, tmp_path / "s"), "--genotypes-dir",
                         tmp_path / f"g{FORGED}")
    assert code == 0, err
    return out + err


def _report_of_a_forged_search_folder(run, tmp_path, monkeypatch):
    """Its lines, its side-by-side command and the comment of each genotype it writes."""
    folder = _search(run, tmp_path / f"s{FORGED}")
    code, out, err = run("search", "report", folder, "--genotypes-dir", tmp_path / "g")
    assert code == 0, err
    return out + err + (tmp_path / "g" / "found1.txt").read_text() + (folder / "best.txt"
                                                                       ).read_text()


# case -> what prints a path or URL holding a newline
FORGING = {
    "data import -o": _import_into_a_forged_folder,
    "weights list with TORCH_HOME": _weights_list_with_a_forged_cache,
    "a weights URL's file name in the offline hint": _url_with_a_newline,
    "search report --genotypes-dir": _report_into_a_forged_genotypes_dir,
    "search report of a search folder": _report_of_a_forged_search_folder,
}


@pytest.mark.parametrize("produce", FORGING.values(), ids=FORGING.keys())
def test_a_newline_in_a_path_forges_no_line(run, tmp_path, monkeypatch, produce):
    _no_forged_line(produce(run, tmp_path, monkeypatch))


def test_the_printed_train_command_is_one_line_naming_the_folder(run, tmp_path):
    code, out, _ = run("data", "import", "--from", "voc", _voc(tmp_path / "voc"), "-o",
                       tmp_path / f"out put{FORGED}")
    command = out.split("train with:\n", 1)[1].splitlines()[0]
    assert "$'" in command and "out put\\nerror: fake line" in command


def test_the_printed_compare_command_is_one_line_bash_reads_back(run, tmp_path):
    """search report's side-by-side command quotes its folder as the import's train line does
    (U16: ``nasfpn compare s_$\\foo{$ ...`` was printed unquoted)."""
    folder = _search(run, tmp_path / "s_$\\foo{$")
    code, out, err = run("search", "report", folder)
    assert code == 0, err
    line = out.split("side by side: ", 1)[1].splitlines()[0]
    words = subprocess.run(["bash", "-c", f"printf '%s\\n' {line.split(' (or ')[0]}"],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    assert words == ["nasfpn", "compare", str(folder), "--top", "10", "-o",
                     str(folder / "compare.html")]


# kind: `weights add` given what is no file names what it is (U12)
@pytest.mark.parametrize("make, message", [
    (lambda p: p.mkdir(), "is a folder"),
    (os.mkfifo, "not a regular file"),
], ids=["a folder", "a FIFO"])
def test_weights_add_names_what_is_not_a_file(run, tmp_path, monkeypatch, make, message):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    monkeypatch.delitem(__import__("sys").modules, "torch.hub", raising=False)
    make(tmp_path / "w")
    code, _, err = run("weights", "add", "resnet18", tmp_path / "w")
    assert code == 1 and message in err and "no such file" not in err


def test_a_killed_downloads_partial_file_is_swept(tmp_path, monkeypatch):
    from nasfpn_cli.modeling.pretrained import PARTIAL_MAX_AGE_S, sweep_partials

    dead = subprocess.Popen(["true"])
    dead.wait()
    cache = tmp_path / "checkpoints"
    cache.mkdir()
    stale = [cache / f".w.pth.{dead.pid}.abc123.partial", cache / ".fifo1.pxgl8kmn.partial"]
    live = [cache / f".w.pth.{os.getpid()}.def456.partial", cache / ".new.x1y2z3.partial",
            cache / "w.pth"]
    for path in stale + live:
        path.write_bytes(b"x")
    old = time.time() - PARTIAL_MAX_AGE_S - 60
    os.utime(stale[1], (old, old))
    sweep_partials(cache)
    assert [p.exists() for p in stale] == [False, False]
    assert all(p.exists() for p in live)


# kind: markup never printed as text (U15)
def test_bench_prints_no_markup_as_text(run):
    code, out, err = run("bench", "fpn", "--backbone", "resnet10", "--channels", "16",
                         "--stack", "1", "--image-size", "64", "--runs", "1")
    assert code == 0, err
    assert "[dim]" not in out + err and "[/]" not in out + err and "peak memory:" in out
