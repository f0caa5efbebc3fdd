"""`nasfpn compare`: the Pareto front, bad input, and the page opened in a real headless
Chromium (drawings and plots in the DOM, a screenshot with the plots' colours in it)."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from cli_runner import run_cli
from engine_helpers import ONE_THREAD
from PIL import Image

from nasfpn_cli.report.charts import pareto_front

TINY_MODEL = ["--backbone", "resnet10", "--stack", "1", "--channels", "16", "--num-classes", "1"]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
TAB_BLUE, TAB_RED = (31, 119, 180), (214, 39, 40)  # matplotlib's points and Pareto line


def test_pareto_front_keeps_the_undominated_points_by_cost():
    assert pareto_front([1, 2, 3, 4], [0.1, 0.3, 0.2, 0.4]) == [0, 1, 3]
    assert pareto_front([2, 1, 1], [0.5, 0.2, 0.3]) == [2, 0]  # same cost: the better one
    assert pareto_front([1, 2], [0.5, 0.5]) == [0]  # dearer and no better: dominated
    assert pareto_front([], []) == []


def test_compare_of_nothing_or_a_missing_path_is_a_clear_error(cli, tmp_path):
    run = cli("compare")
    assert run.returncode == 2 and "nothing to compare" in run.stderr
    run = cli("compare", str(tmp_path / "missing"))
    assert run.returncode == 1 and "missing: no such file or bundled genotype" in run.stderr
    run = cli("compare", str(tmp_path))
    assert run.returncode == 2 and "neither a run folder" in run.stderr
    assert "Traceback" not in run.stderr


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def _colour_pixels(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 30) -> int:
    return sum(count for count, pixel in image.getcolors(image.width * image.height)
               if all(abs(a - b) <= tolerance for a, b in zip(pixel, colour)))


@pytest.fixture(scope="module")
def search_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("search") / "s"
    run = run_cli("search", "--controller", "random", "--reward", "similarity:nasfpn", "--trials",
              "6", "-o", str(out))
    assert run.returncode == 0, run.stderr
    return out


@pytest.mark.slow
def test_the_page_renders_offline_in_headless_chromium(trained_run, search_dir, cli, tmp_path):
    _, result = trained_run
    page = tmp_path / "compare.html"
    run = cli("compare", str(result.output_dir), str(search_dir), "nasfpn", "--top", "2",
              *TINY_MODEL, "--latency-runs", "2", "-o", str(page), "--json", env=ONE_THREAD)
    assert run.returncode == 0, run.stderr
    text = page.read_text()
    # offline: no scripts, no stylesheets or images fetched; http only in XML namespaces
    assert "<script" not in text and "<link" not in text and "<img" not in text
    assert not [url for url in re.findall(r"https?://[^\s\"'<>]+", text)
                if not url.startswith(("http://www.w3.org/", "http://purl.org/",
                                       "http://creativecommons.org/"))]
    assert "square" in text  # the run's per-class AP column
    chromium = _chromium()
    if chromium is None:
        pytest.skip("chromium is not installed (make install adds it as root with apt-get)")
    flags = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    drawings = re.findall(r'<figure class="drawing" data-model="([^"]+)"><svg', html)
    assert drawings == ["fpn", "s#1", "s#2", "nasfpn"]
    for plot in ("ap-vs-macs", "ap-vs-latency"):
        assert re.search(rf'<figure class="scatter" id="{plot}"><svg', html), plot
    assert re.search(r'<figure class="curves" data-model="fpn"><svg', html)
    shot = tmp_path / "shot.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    image = Image.open(shot).convert("RGB")
    assert image.size == (1200, 1600)
    assert _colour_pixels(image, TAB_BLUE) > 20  # the scatter points were painted
    assert _colour_pixels(image, TAB_RED) > 0  # ... and the Pareto front
