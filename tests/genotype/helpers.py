"""Shared test helpers for the genotype language: generated genotypes and in-process CLI runs."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from nasfpn_cli.cli import main

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "genotype"
BUNDLED = sorted((ROOT / "genotypes").glob("*.txt"))
LEVELS = (3, 4, 5, 6, 7)


def generated_genotype(cells: int, seed: int = 0, window: int = 50) -> str:
    """A valid DSL genotype with ``cells`` cells (the last five are the outputs P3..P7).

    Each cell takes two or three of the ``window`` most recent features, so it stays valid at
    any size and exercises every op.
    """
    rng = random.Random(seed)
    lines = [f"# generated: {cells} cells", "genotype generated", "inputs P3 P4 P5 P6 P7",
             "outputs P3 P4 P5 P6 P7", ""]
    names = [f"P{level}" for level in LEVELS]
    for index in range(cells - len(LEVELS)):
        op = rng.choice(["sum", "gp", "wsum"])
        args = rng.sample(names[-window:], 2 if op == "gp" else rng.choice([2, 3]))
        lines.append(f"c{index} = {op}({', '.join(args)}) @ P{rng.choice(LEVELS)}")
        names.append(f"c{index}")
    for offset, level in enumerate(LEVELS):
        lines.append(f"o{level} = sum({names[-1 - offset]}, {names[-6 - offset]}) @ P{level} -> out")
    return "\n".join(lines) + "\n"


def run_main(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    """Run ``nasfpn ARGS`` in this process; returns (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    captured = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err
