"""Backbone weights sources (``--backbone-weights``): the cache is keyed by content (a file
name's sha256 prefix, checked) or by the whole URL, never by a bare file name; ``file://`` files
are read in place; FIFOs, devices and folders are refused before anything is read; the run
records the sha256 of the file it loaded (issue 30: D6, H3, H4, S1, U12, U13)."""
from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.request

import pytest
import torch

from nasfpn_cli.errors import ModelError
from nasfpn_cli.modeling.backbones import build_backbone
from nasfpn_cli.modeling.pretrained import cache_dir, resolve_weights

from cli_runner import train_single_threaded
from robust_helpers import TINY_TRAIN


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delitem(__import__("sys").modules, "torch.hub", raising=False)
    return tmp_path / "torch" / "hub" / "checkpoints"


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """resnet10 weights as ``a/model.pth``, and another backbone's as ``b/model.pth``."""
    root = tmp_path_factory.mktemp("weights")
    (root / "a").mkdir()
    (root / "b").mkdir()
    torch.manual_seed(0)
    torch.save(build_backbone("resnet10").state_dict(), root / "a/model.pth")
    torch.save(build_backbone("resnet18").state_dict(), root / "b/model.pth")
    return root


def test_two_file_urls_with_one_file_name_are_two_sources(hub, weights):
    """a's weights cached first must not be trained for b (b does not fit resnet10)."""
    build_backbone("resnet10", weights=(weights / "a/model.pth").as_uri())
    with pytest.raises(ModelError, match="b/model.pth do not fit resnet10"):
        build_backbone("resnet10", weights=(weights / "b/model.pth").as_uri())
    assert not hub.exists() or not any(hub.rglob("*.pth"))  # file:// read in place


def test_an_edited_file_source_is_read_as_it_is_now(hub, weights, tmp_path):
    source = tmp_path / "model.pth"
    source.write_bytes((weights / "a/model.pth").read_bytes())
    assert resolve_weights(source.as_uri(), "resnet10") == source
    source.write_bytes((weights / "b/model.pth").read_bytes())
    with pytest.raises(ModelError, match="do not fit"):
        build_backbone("resnet10", weights=source.as_uri())


def test_urls_sharing_a_file_name_do_not_share_the_cache(hub, weights, monkeypatch):
    """A r10.pth in the cache (from anywhere) is not another URL's r10.pth."""
    hub.mkdir(parents=True)
    (hub / "r10.pth").write_bytes((weights / "a/model.pth").read_bytes())

    def offline(url, timeout):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(ModelError, match="cannot download") as caught:
        resolve_weights("http://example.invalid/x/r10.pth", "resnet10")
    assert "by-url" in caught.value.hint
    served = {}

    def serve(url, timeout):
        import io

        served[url] = True
        response = io.BytesIO((weights / "a/model.pth").read_bytes())
        response.headers = {}
        return response

    monkeypatch.setattr(urllib.request, "urlopen", serve)
    one = resolve_weights("http://host1.invalid/r10.pth", "resnet10", progress=False)
    two = resolve_weights("http://host2.invalid/r10.pth", "resnet10", progress=False)
    assert one != two and one.parent.parent == two.parent.parent == cache_dir() / "by-url"
    assert len(served) == 2


def _fifo(tmp_path):
    path = tmp_path / "fifo.pth"
    os.mkfifo(path)
    return path


# kind: a local source that is not a regular file, or a spelling that names nothing
SOURCES = {
    "a FIFO": (lambda tmp: str(_fifo(tmp)), "not a regular file"),
    "a FIFO by file://": (lambda tmp: _fifo(tmp).as_uri(), "not a regular file"),
    "/dev/zero": (lambda tmp: "/dev/zero", "not a regular file"),
    "file:///dev/zero": (lambda tmp: "file:///dev/zero", "not a regular file"),
    "a folder": (lambda tmp: str(tmp), "is a folder"),
    "a file:// URL with a host": (lambda tmp: "file://w/r10.pth", "names the host 'w'"),
    "ftp://": (lambda tmp: "ftp://x/y.pth", "scheme 'ftp' are not supported"),
    "empty": (lambda tmp: "", "an empty name"),
    "a URL ending in ..": (lambda tmp: "http://x/..", "names no file"),
}


# the ways in: the model builder, and what `train` resolves (and hashes) first (a plain
# /dev/zero path passed it and was hashed forever)
ENTRIES = {"build_backbone": lambda source: build_backbone("resnet10", weights=source),
           "train's resolve_weights": lambda source: resolve_weights(source, "resnet10",
                                                                     progress=False)}


@pytest.mark.parametrize("entry", ENTRIES.values(), ids=ENTRIES.keys())
@pytest.mark.parametrize("make, message", SOURCES.values(), ids=SOURCES.keys())
def test_weights_sources_that_are_not_files_are_refused_at_once(hub, tmp_path, make, message,
                                                                entry):
    source = make(tmp_path)
    started = time.monotonic()
    with pytest.raises(ModelError, match=message):
        entry(source)
    assert time.monotonic() - started < 60  # a guard against hangs, not a timing
    assert not hub.exists() or not any(hub.rglob("*"))  # nothing copied, no partial file


def test_the_run_records_the_sha256_of_the_file_it_loaded(hub, weights, tiny_data, tmp_path):
    source = weights / "a/model.pth"
    out = tmp_path / "run"
    train_single_threaded(**TINY_TRAIN, data_dir=str(tiny_data), output_dir=str(out), epochs=1,
                          backbone_weights=source.as_uri())
    recorded = json.loads((out / "config.json").read_text())["backbone_weights"]
    assert recorded == {"source": source.as_uri(), "file": str(source),
                        "sha256": hashlib.sha256(source.read_bytes()).hexdigest()}


def test_a_download_bar_shows_the_file_name_as_text(capsys):
    from nasfpn_cli.modeling.pretrained import _progress_bar

    bar = _progress_bar("[link=http:evil]w5.pth", 10, True)
    description = bar.progress.tasks[0].description
    from rich.text import Text

    assert Text.from_markup(description).plain == "[link=http:evil]w5.pth"
