"""Large inputs stay bounded: diagnostics are capped with a count of the rest, and the largest
--stack ``draw`` allows answers in seconds."""
from __future__ import annotations

import shutil
import time

import pytest

from nasfpn_cli.console import MAX_SHOWN_DIAGNOSTICS
from nasfpn_cli.genotype import load_genotype
from nasfpn_cli.errors import GenotypeError

BROKEN = 2000


@pytest.fixture
def broken_file(tmp_path):
    lines = ["genotype big", "inputs P3 P4 P5 P6 P7", "outputs P3 P4 P5 P6 P7"]
    lines += [f"c{i} = sum(missing{i}, P3) @ P3" for i in range(BROKEN)]
    path = tmp_path / "big.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_validate_caps_the_diagnostics_and_counts_the_rest(run, broken_file):
    code, out, err = run("validate", broken_file)
    assert code == 1
    assert err.count(": error: ") == MAX_SHOWN_DIAGNOSTICS
    total = int(err.rsplit("invalid (", 1)[1].split(" ")[0])
    assert total > BROKEN
    assert f"... and {total - MAX_SHOWN_DIAGNOSTICS} more not shown (--json lists them all)" in err


def test_validate_json_still_lists_every_diagnostic(run, broken_file):
    import json

    code, out, _ = run("validate", broken_file, "--json")
    assert code == 1 and len(json.loads(out)["files"][0]["errors"]) > BROKEN


def test_error_messages_quote_a_bounded_number_of_errors(broken_file):
    with pytest.raises(GenotypeError) as info:
        load_genotype(broken_file)
    message = str(info.value)
    assert message.count(": error: ") == 50 and "more errors not shown" in message
    assert len(info.value.diagnostics) > BROKEN  # the API still has them all


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed")
def test_the_largest_stack_draws_in_seconds(run, tmp_path):
    started = time.perf_counter()
    code, _, err = run("draw", "nasfpn", "--stack", "64", "-o", tmp_path / "n.svg")
    seconds = time.perf_counter() - started
    assert code == 0, err
    assert seconds < 20, seconds  # 0.7 s here; curved edges took minutes
    assert (tmp_path / "n.svg").stat().st_size > 100_000


def test_more_than_the_largest_stack_is_refused_at_once(run, tmp_path):
    code, _, err = run("draw", "nasfpn", "--stack", "65", "-o", tmp_path / "n.svg")
    assert code == 2 and "--stack" in err


def test_small_drawings_keep_curved_edges():
    from nasfpn_cli.render import layout_to_dot, pyramid_layout

    assert 'splines="true"' in layout_to_dot(pyramid_layout(load_genotype("nasfpn"), 2))
    assert 'splines="line"' in layout_to_dot(pyramid_layout(load_genotype("nasfpn"), 64))


def test_data_check_reports_stay_whole_lines_in_a_pipe(run, tmp_path):
    """Piped output (scripts, grep, CI logs) gets one line per example, never folded however
    long the path, and a count of the examples left out."""
    import json

    folder = tmp_path / ("a-very-long-folder-name-" * 6)
    folder.mkdir()
    ann = folder / "instances.json"
    images = [{"id": i, "file_name": f"{i}.png", "width": 10, "height": 10} for i in range(30)]
    annotations = [{"id": i, "image_id": i, "category_id": 1, "bbox": None} for i in range(30)]
    ann.write_text(json.dumps({"images": images, "annotations": annotations,
                               "categories": [{"id": 1, "name": "x"}]}))
    code, out, _ = run("data", "check", ann, "--images", folder, "--no-images")
    assert code == 1
    assert f"{ann}: 30 images" in out  # the whole path on one line
    assert "bbox-length (30): " in out and "    ... and 25 more" in out
