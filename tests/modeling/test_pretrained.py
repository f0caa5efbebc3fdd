"""Published backbone weights by name, URL downloads into the torch hub cache with checksums,
safetensors files; all on files the tests make (no network)."""
from __future__ import annotations

import hashlib
import io
import urllib.error
import urllib.request

import pytest
import torch
from safetensors.torch import save_file

from nasfpn_cli.errors import ModelError
from nasfpn_cli.modeling import pretrained
from nasfpn_cli.modeling.backbones import build_backbone, read_state_dict
from nasfpn_cli.modeling.pretrained import (PUBLISHED, PublishedWeights, cache_path,
                                            published_weights, resolve_weights)


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch hub folder (TORCH_HOME) for the test; its checkpoints folder."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints"


@pytest.fixture(scope="module")
def resnet10_state():
    torch.manual_seed(3)
    state = build_backbone("resnet10").state_dict()
    state["fc.weight"], state["fc.bias"] = torch.zeros(1000, 512), torch.zeros(1000)
    return state


def _published(tmp_path, state, *, name_hash: str | None = None) -> tuple[str, str]:
    """A "published" file of ``state`` named NAME-<sha256 prefix>.pth (or ``name_hash``);
    (its file:// URL, its full sha256)."""
    raw = tmp_path / "raw.pth"
    torch.save(state, raw)
    digest = hashlib.sha256(raw.read_bytes()).hexdigest()
    server = tmp_path / "server"
    server.mkdir(exist_ok=True)
    path = server / f"resnet10-{name_hash or digest[:8]}.pth"
    raw.rename(path)
    return path.as_uri(), digest


def _publish(monkeypatch, backbone: str, url: str) -> None:
    monkeypatch.setitem(PUBLISHED, backbone, {"imagenet-v1": PublishedWeights(
        backbone, "imagenet-v1", url, 0.0, "TEST")})


def test_names_resolve_to_torchvision_urls_and_the_hub_cache(hub):
    entry = published_weights("resnet18", "imagenet")
    assert entry.url == "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    assert entry.sha256_prefix == "f37072fd"
    assert cache_path("imagenet", "resnet18") == hub / "resnet18-f37072fd.pth"
    assert published_weights("resnet50", "imagenet").file_name == "resnet50-0676ba61.pth"
    assert published_weights("resnet50", "imagenet-v2").file_name == "resnet50-11ad3fa6.pth"
    assert published_weights("resnet101", "imagenet-v2").file_name == "resnet101-cd907fc2.pth"
    assert published_weights("mobilenetv2", "imagenet-v2").file_name == \
        "mobilenet_v2-7ebf99e0.pth"
    assert set(PUBLISHED) == {"resnet18", "resnet34", "resnet50", "resnet101", "mobilenetv2"}


def test_resnet10_and_unknown_variants_name_what_exists():
    with pytest.raises(ModelError, match="no published weights for resnet10") as caught:
        published_weights("resnet10", "imagenet")
    assert "resnet18" in caught.value.hint and "resnet50" in caught.value.hint
    with pytest.raises(ModelError, match="resnet18 has no such") as caught:
        published_weights("resnet18", "imagenet-v2")
    assert "imagenet-v1" in caught.value.hint


def test_a_name_downloads_once_checks_the_hash_and_loads(hub, tmp_path, monkeypatch,
                                                         resnet10_state):
    url, digest = _published(tmp_path, resnet10_state)
    _publish(monkeypatch, "resnet10", url)
    backbone = build_backbone("resnet10", weights="imagenet")
    cached = hub / url.rsplit("/", 1)[1]
    assert [p.name for p in hub.iterdir()] == [cached.name]  # no partial file left
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == digest
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, resnet10_state[key]), key

    def offline(*args, **kwargs):
        raise AssertionError("a cached file needs no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    assert resolve_weights("imagenet", "resnet10") == cached


def test_a_wrong_checksum_leaves_nothing_in_the_cache(hub, tmp_path, monkeypatch,
                                                      resnet10_state):
    url, _ = _published(tmp_path, resnet10_state, name_hash="00000000")
    with pytest.raises(ModelError) as caught:
        resolve_weights(url, "resnet10")
    message = str(caught.value)
    assert url in message and "does not start with 00000000" in message
    assert not hub.exists() or list(hub.iterdir()) == []


def test_a_wrong_file_placed_in_the_cache_by_hand_is_refused(hub, tmp_path, monkeypatch,
                                                             resnet10_state):
    _publish(monkeypatch, "resnet10", "https://example.invalid/resnet10-0123abcd.pth")
    hub.mkdir(parents=True)
    torch.save(resnet10_state, hub / "resnet10-0123abcd.pth")
    with pytest.raises(ModelError, match="does not start with 0123abcd"):
        resolve_weights("imagenet", "resnet10")


class _ShortResponse(io.BytesIO):
    """A response that promises more bytes (Content-Length) than it sends."""

    def __init__(self, data: bytes, length: int):
        super().__init__(data)
        self.headers = {"Content-Length": str(length)}


def test_a_download_cut_short_is_an_error_and_not_cached(hub, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen",
                        lambda url, timeout: _ShortResponse(b"x" * 100, 1000))
    url = "https://example.invalid/models/resnet10-0123abcd.pth"
    with pytest.raises(ModelError, match="cut short: 100 of 1000 bytes"):
        resolve_weights(url, "resnet10")
    assert list(hub.iterdir()) == []


def test_offline_names_the_url_the_cache_path_and_the_manual_way(hub, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(ModelError) as caught:
        resolve_weights("imagenet", "resnet18")
    url = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    assert url in str(caught.value) and "name resolution" in str(caught.value)
    assert str(hub / "resnet18-f37072fd.pth") in caught.value.hint
    assert "another machine" in caught.value.hint
    assert list(hub.iterdir()) == []


def test_a_file_of_another_backbone_gives_the_key_mismatch_error(hub, tmp_path, monkeypatch,
                                                                 resnet10_state):
    url, _ = _published(tmp_path, resnet10_state)
    _publish(monkeypatch, "resnet18", url)  # resnet10's file published as resnet18's
    with pytest.raises(ModelError, match="do not fit resnet18") as caught:
        build_backbone("resnet18", weights="imagenet")
    assert "missing key" in str(caught.value)


def test_safetensors_files_load_and_match(tmp_path, resnet10_state):
    path = tmp_path / "resnet10.safetensors"
    save_file(resnet10_state, str(path))
    backbone = build_backbone("resnet10", weights=path)
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, resnet10_state[key]), key
    unnamed = tmp_path / "resnet10.bin"  # found by its header, whatever its name
    unnamed.write_bytes(path.read_bytes())
    assert torch.equal(read_state_dict(unnamed)["conv1.weight"], resnet10_state["conv1.weight"])


def test_safetensors_by_url_and_truncated_files_name_the_file(hub, tmp_path, resnet10_state):
    path = tmp_path / "weights.safetensors"
    save_file(resnet10_state, str(path))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    published = tmp_path / f"resnet10-{digest[:10]}.safetensors"
    path.rename(published)
    build_backbone("resnet10", weights=published.as_uri())
    assert (hub / published.name).is_file()

    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(published.read_bytes()[:5000])
    with pytest.raises(ModelError, match="truncated.safetensors: cannot read this safetensors"):
        read_state_dict(truncated)
    torch.save(resnet10_state, tmp_path / "full.pth")
    cut = tmp_path / "cut.pth"
    cut.write_bytes((tmp_path / "full.pth").read_bytes()[:5000])
    with pytest.raises(ModelError, match="cut.pth: cannot read"):
        read_state_dict(cut)


def test_a_plain_path_is_returned_as_it_is(tmp_path):
    (tmp_path / "w.pth").write_bytes(b"x")
    assert resolve_weights(str(tmp_path / "w.pth"), "resnet18") == tmp_path / "w.pth"
    with pytest.raises(ModelError, match="no such file"):  # held to a regular file, as URLs
        resolve_weights(str(tmp_path / "missing.pth"), "resnet18")
    assert pretrained.hash_prefix("resnet18-f37072fd.pth") == "f37072fd"
    assert pretrained.hash_prefix("weights.pth") is None
