"""``nasfpn weights list|fetch|add``: the published sets and the cache, a download from a
file:// URL, the offline way in (add: checked by hash and keys, copied atomically); no network."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch

from nasfpn_cli.modeling import pretrained
from nasfpn_cli.modeling.backbones import build_backbone
from nasfpn_cli.modeling.pretrained import PUBLISHED, PublishedWeights, resolve_weights

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch hub folder (TORCH_HOME) for the test; its checkpoints folder."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints"


@pytest.fixture(scope="module")
def resnet10_file(tmp_path_factory) -> tuple[Path, str]:
    """A torchvision-style resnet10 state dict file (classifier included); (path, sha256)."""
    torch.manual_seed(3)
    state = build_backbone("resnet10").state_dict()
    state["fc.weight"], state["fc.bias"] = torch.zeros(1000, 512), torch.zeros(1000)
    path = tmp_path_factory.mktemp("weights") / "downloaded.pth"
    torch.save(state, path)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def _publish(monkeypatch, backbone: str, url: str) -> PublishedWeights:
    entry = PublishedWeights(backbone, "imagenet-v1", url, 70.0, "TEST", 1.0)
    monkeypatch.setitem(PUBLISHED, backbone, {"imagenet-v1": entry})
    return entry


def _no_network(monkeypatch) -> None:
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)


def test_list_shows_every_set_cached_or_missing_and_as_json(hub, run):
    hub.mkdir(parents=True)
    (hub / "resnet18-f37072fd.pth").write_bytes(b"only its name is looked at")
    code, out, _ = run("weights", "list")
    assert code == 0
    lines = {line.split()[0] + " " + line.split()[1]: line for line in out.splitlines()
             if line.split()[:1] and line.split()[0] in PUBLISHED}
    assert "cached" in lines["resnet18 imagenet-v1"]
    assert "resnet18-f37072fd.pth" in lines["resnet18 imagenet-v1"]
    assert "69.8" in lines["resnet18 imagenet-v1"] and "45 MB" in lines["resnet18 imagenet-v1"]
    assert "missing" in lines["resnet50 imagenet-v2"]
    assert "imagenet = imagenet-v1" in out and str(hub) in out

    code, out, _ = run("weights", "list", "--json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == sum(len(sets) for sets in PUBLISHED.values())
    first = next(r for r in rows if r["backbone"] == "resnet18")
    assert first["cached"] is True and first["path"] == str(hub / "resnet18-f37072fd.pth")
    assert first["aliases"] == ["imagenet"] and first["sha256_prefix"] == "f37072fd"
    assert first["url"] == "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    assert [r["cached"] for r in rows].count(True) == 1


def test_the_cache_folder_follows_torch_hub_without_importing_torch(tmp_path, monkeypatch):
    import torch.hub

    for env in ({"TORCH_HOME": str(tmp_path / "th")}, {"XDG_CACHE_HOME": str(tmp_path / "x")},
                {}):
        for name in ("TORCH_HOME", "XDG_CACHE_HOME"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        expected = Path(torch.hub.get_dir()) / "checkpoints"
        with monkeypatch.context() as without_torch:
            without_torch.delitem(sys.modules, "torch.hub")
            assert pretrained.cache_dir() == expected, env


def test_list_and_fetch_never_import_torch(hub):
    check = textwrap.dedent("""
        import json, sys
        from nasfpn_cli.cli import main
        codes = []
        for args in (["weights", "list"], ["weights", "list", "--json"],
                     ["weights", "fetch", "resnet10"]):
            try:
                main(args)
            except SystemExit as exc:
                codes.append(exc.code)
        print(json.dumps({"codes": codes, "torch": "torch" in sys.modules}))
    """)
    result = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"codes": [0, 0, 2], "torch": False}, result.stderr


def test_fetch_downloads_into_the_cache_and_prints_the_path(hub, tmp_path, monkeypatch, run,
                                                           resnet10_file):
    source, digest = resnet10_file
    served = tmp_path / f"resnet10-{digest[:8]}.pth"
    served.write_bytes(source.read_bytes())
    _publish(monkeypatch, "resnet10", served.as_uri())
    timeouts = []
    real_urlopen = urllib.request.urlopen

    def urlopen(url, timeout):
        timeouts.append(timeout)
        return real_urlopen(url, timeout=timeout)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    code, out, err = run("weights", "fetch", "resnet10", "--timeout", "7", "--quiet")
    assert code == 0, err
    assert out.strip() == str(hub / served.name) and timeouts == [7.0]
    assert [p.name for p in hub.iterdir()] == [served.name]
    assert hashlib.sha256((hub / served.name).read_bytes()).hexdigest() == digest

    _no_network(monkeypatch)  # once cached, no network: the file is checked and kept
    code, out, _ = run("weights", "fetch", "resnet10", "imagenet-v1")
    assert code == 0 and out.strip() == str(hub / served.name)


def test_fetch_offline_is_the_clear_error_offering_weights_add(hub, monkeypatch, run):
    _no_network(monkeypatch)
    code, out, err = run("weights", "fetch", "resnet18")
    assert code == 1 and out == ""
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in err
    assert "name resolution" in err and str(hub / "resnet18-f37072fd.pth") in err
    assert "nasfpn weights add resnet18 imagenet FILE" in err
    assert "Traceback" not in err and list(hub.iterdir()) == []
    # a training's own download gives the same hint
    with pytest.raises(pretrained.ModelError) as caught:
        resolve_weights("imagenet-v2", "resnet50")
    assert "nasfpn weights add resnet50 imagenet-v2 FILE" in caught.value.hint


def test_add_checks_and_copies_a_file_training_then_finds_offline(hub, monkeypatch, run,
                                                                 resnet10_file):
    source, digest = resnet10_file
    entry = _publish(monkeypatch, "resnet10",
                     f"https://example.invalid/models/resnet10-{digest[:8]}.pth")
    _no_network(monkeypatch)
    code, out, err = run("weights", "add", "resnet10", source)
    assert code == 0, err
    cached = hub / entry.file_name
    assert out.strip() == str(cached) and "copied to the cache" in err
    assert [p.name for p in hub.iterdir()] == [cached.name]  # no temporary file left
    assert cached.read_bytes() == source.read_bytes()
    assert resolve_weights("imagenet", "resnet10") == cached  # urlopen fails: from the cache
    build_backbone("resnet10", weights="imagenet")

    code, out, err = run("weights", "add", "resnet10", "imagenet-v1", source)  # again: kept
    assert code == 0 and "in the cache already" in err and out.strip() == str(cached)


def test_add_of_a_file_with_another_hash_copies_nothing(hub, monkeypatch, run, resnet10_file):
    source, digest = resnet10_file
    _publish(monkeypatch, "resnet10", "https://example.invalid/models/resnet10-0123abcd.pth")
    code, out, err = run("weights", "add", "resnet10", "imagenet", source)
    assert code == 1 and out == ""
    assert f"sha256 {digest[:8]}..." in err and "starts with 0123abcd" in err
    assert "nothing was copied" in err
    assert not hub.exists() or list(hub.iterdir()) == []


def test_add_of_another_backbones_file_is_the_key_mismatch_error(hub, monkeypatch, run,
                                                                 resnet10_file):
    source, digest = resnet10_file  # resnet10's file, published (hash and all) as resnet18's
    _publish(monkeypatch, "resnet18", f"https://example.invalid/models/resnet18-{digest[:8]}.pth")
    code, out, err = run("weights", "add", "resnet18", source)
    assert code == 1 and out == ""
    assert "do not fit resnet18" in err and "missing key" in err and "nothing was copied" in err
    assert not hub.exists() or list(hub.iterdir()) == []


@pytest.mark.parametrize("args, named", [
    (["fetch", "resnet10"], "resnet18, resnet34, resnet50, resnet101, mobilenetv2"),
    (["fetch", "resnet18", "imagenet-v2"], "imagenet, imagenet-v1"),
    (["add", "resnet18", "imagenet-v3", "x.pth"], "imagenet, imagenet-v1"),
    (["add", "nope", "x.pth"], "resnet18, resnet34"),
    (["add", "resnet18", "missing.pth"], "no such file"),
    (["add", "resnet18", "imagenet", "a.pth", "b.pth"], "BACKBONE [NAME] FILE"),
])
def test_unknown_backbones_names_and_files_are_usage_errors(hub, run, args, named):
    code, out, err = run("weights", *args)
    assert code == 2 and named in err and "Traceback" not in err
