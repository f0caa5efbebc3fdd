"""The default reward end to end: a tiny proxy search (4 trials, 2 workers) from the CLI."""
from __future__ import annotations

import json

from nasfpn_cli.genotype import parse_genotype

TINY = ["--proxy-image-size", "64", "--proxy-channels", "16", "--proxy-epochs", "1",
        "--proxy-images", "12", "--proxy-batch-size", "4", "--proxy-stack", "1"]


def test_tiny_proxy_search_with_two_workers(cli, tmp_path):
    out = tmp_path / "search"
    result = cli("search", "--trials", "4", "--workers", "2", "--seed", "1", "-o", str(out), *TINY)
    assert result.returncode == 0, result.stderr
    assert "note: the proxy is not tuned on this data" in result.stderr  # one line says so
    records = [json.loads(line) for line in (out / "trials.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [0, 1, 2, 3]
    assert sorted(r["trial"] for r in records) == [0, 1, 2, 3]
    for record in records:
        assert 0.0 <= record["reward"] <= 1.0 and record["error"] is None
        assert record["worker"] in ("worker0", "worker1") and record["seconds"] > 0
    assert (out / "proxy_data" / "annotations" / "instances_val2017.json").is_file()
    assert len(list((out / "proxy_data" / "val2017").glob("*.png"))) == 4  # a third held out
    assert (out / "proxy_data" / "digits.json").is_file()  # the default: --proxy-data digits
    identity = json.loads((out / "search.json").read_text())["identity"]
    assert identity["reward"] == {"name": "proxy", "argument": None, "modules": [], "options": {
        "image_size": 64, "channels": 16, "epochs": 1, "synth_images": 12, "batch_size": 4,
        "stack": 1}}
    parse_genotype((out / "best.txt").read_text())
    assert "4 trials, 4 distinct architectures" in result.stdout
