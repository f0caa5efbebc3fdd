"""Earlier calibrations named by ``search calibrate --reference-from DIR`` and ``--tune
--ladder-from DIR,...``: each is checked before anything is written; the calibration's own
folder, an empty name and a calibration that recorded no training are refused, a folder given
twice counts once (D11, U13, U17, U24 of the round-4 probe)."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "search"))
from test_tuning import write_toy_calibration  # noqa: E402

CALIBRATE = ["search", "calibrate", "--sampled", "0", "--poor", "0", "--architectures", "fpn"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    """A finished toy calibration (no training runs: its files are written directly)."""
    out = tmp_path_factory.mktemp("toy") / "calibration"
    write_toy_calibration(out)
    return out


def _no_trainings(folder: Path) -> None:
    (folder / "trainings.jsonl").unlink()


def _empty_trainings(folder: Path) -> None:
    (folder / "trainings.jsonl").write_text("")


# (the arguments, {placeholders: OUT the output folder, TOY a copy of the finished toy
# calibration}, a change made to TOY first, exit code, what the error says)
REFUSED = [
    ([*CALIBRATE, "--reference-from", "{OUT}", "-o", "{OUT}"], None, 2,
     "--reference-from {OUT}: the calibration's own folder"),  # U17: was refused after writing
    ([*CALIBRATE, "--reference-from", "", "-o", "{OUT}"], None, 2,
     "--reference-from '': an empty folder name"),  # U13: ignored, every training ran
    ([*CALIBRATE, "--reference-from", "{TOY}", "-o", "{OUT}"], _no_trainings, 1,
     "--reference-from {TOY}: no training is recorded there"),  # U24: ran every training
    ([*CALIBRATE, "--reference-from", "{TOY}", "-o", "{OUT}"], _empty_trainings, 1,
     "--reference-from {TOY}: no training is recorded there"),
    (["search", "calibrate", "--tune", "--ladder-from", "{TOY}", "-o", "{TOY}"], None, 2,
     "--ladder-from {TOY}: the calibration's own folder"),  # D11: its rungs twice
    (["search", "calibrate", "--tune", "--ladder-from", ",{TOY}", "-o", "{OUT}"], None, 2,
     "an empty folder name"),
]


@pytest.mark.parametrize("args, change, code, message", REFUSED)
def test_earlier_calibrations_are_checked_before_anything_is_written(run, toy, tmp_path, args,
                                                                     change, code, message):
    copy = shutil.copytree(toy, tmp_path / "toy")
    if change is not None:
        change(copy)
    out = tmp_path / "out"
    names = {"{OUT}": str(out), "{TOY}": str(copy)}

    def filled(text: str) -> str:
        for key, value in names.items():
            text = text.replace(key, value)
        return text

    before = sorted(p.name for p in copy.iterdir())
    exit_code, _, err = run(*map(filled, args))
    assert exit_code == code and filled(message) in err, err
    assert not out.exists() and sorted(p.name for p in copy.iterdir()) == before


def test_a_ladder_folder_given_twice_counts_once(run, toy, tmp_path):
    tuned, other = (shutil.copytree(toy, tmp_path / name) for name in ("tuned", "other"))
    code, _, err = run("search", "calibrate", "--tune", "--ladder-from", f"{other},{other}",
                       "-o", tuned)
    assert code == 0, err
    assert "is given twice; its trainings count once" in err
    rungs = [rung["name"] for rung in json.loads((tuned / "tuning.json").read_text())["rungs"]]
    assert len(rungs) == len(set(rungs))
