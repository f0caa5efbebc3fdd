"""``nasfpn export --checkpoint RUN/best.pt --to hub -o DIR``: a model-hub folder with weights,
config, genotype, drawing, neck.py and a model card, from a tiny run whose class and dataset
names are hostile."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file

from cli_runner import train_single_threaded
from neck_export_helpers import load_module
from nasfpn_cli.data.synth import make_synthetic_dataset
from nasfpn_cli.engine.checkpoint import Checkpoint
from nasfpn_cli.modeling.model_card import code_block, markdown_text, yaml_string

HOSTILE_CLASSES = ['"]\n---\nlibrary_name: evil',
                   "<img src=x onerror=alert(1)> ``` | a | \x1b[31m"]
HOSTILE_DATA = 'data "q" <b>x</b> ```\n---\nlibrary_name: evil'
FILES = ("model.safetensors", "config.json", "genotype.txt", "neck.svg", "neck.py", "README.md")


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory) -> Path:
    """A one-epoch run (nasfpn, 1@8, resnet10, 64 px) on data with hostile names."""
    root = tmp_path_factory.mktemp("hub")
    data = root / HOSTILE_DATA
    make_synthetic_dataset(data, num_images=16, image_size=64, seed=0, val_fraction=0.25,
                           num_classes=2, max_objects=2)
    for path in (data / "annotations").glob("*.json"):
        annotations = json.loads(path.read_text())
        for category, name in zip(annotations["categories"], HOSTILE_CLASSES):
            category["name"] = name
        path.write_text(json.dumps(annotations))
    train_single_threaded(genotype="nasfpn", backbone="resnet10", stack=1, channels=8,
                          image_size=64, batch_size=4, lr=0.01, warmup=1, workers=0,
                          data_dir=str(data), output_dir=str(root / "run"), epochs=1,
                          eval_every=1)
    return root


@pytest.fixture(scope="module")
def hub(hostile_run, tmp_path_factory) -> Path:
    from nasfpn_cli.cli import main

    folder = tmp_path_factory.mktemp("out") / "hub"
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "nasfpn", "--checkpoint", str(hostile_run / "run" / "best.pt"),
              "--to", "hub", "-o", str(folder), "--image-size", "128"])
    assert exit_info.value.code == 0
    return folder


def front_matter(card: str) -> tuple[dict, str]:
    assert card.startswith("---\n")
    head, body = card[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body


def test_the_folder_holds_the_hub_files(hub):
    assert sorted(p.name for p in hub.iterdir()) == sorted(FILES)
    config = json.loads((hub / "config.json").read_text())
    assert config["library_name"] == "nasfpn" and config["neck_class"] == "NasfpnNeck"
    assert config["category_names"] == HOSTILE_CLASSES
    assert config["model"]["channels"] == 8 and "n5 = gp(n3, n4)" in config["genotype_text"]
    assert (hub / "genotype.txt").read_text().startswith("genotype nasfpn")
    assert (hub / "neck.svg").read_text().lstrip().startswith(("<?xml", "<svg", "<!DOCTYPE"))


def test_the_card_has_its_metadata_and_sections(hub):
    metadata, body = front_matter((hub / "README.md").read_text())
    assert metadata["library_name"] == "nasfpn"
    assert {"object-detection", "retinanet", "nas-fpn"} <= set(metadata["tags"])
    assert metadata["datasets"] == [Path(HOSTILE_DATA).name]  # the data folder's name
    assert metadata["metrics"] == ["AP", "AP50", "AP75", "APs", "APm", "APl"]
    headings = re.findall(r"^## (.+)$", body, re.M)
    assert headings == ["Architecture", "Training", "Evaluation", "How to load", "Limits"]
    assert "![the pyramid's cells by level](neck.svg)" in body
    assert "| AP | AP50 | AP75 | APs | APm | APl |" in body
    assert "nasfpn eval model.safetensors" in body and "huggingface" not in body.lower()


def test_hostile_names_stay_text_in_the_card(hub):
    card = (hub / "README.md").read_text()
    _, body = front_matter(card)
    assert card.count("\n---\n") == 1  # the front matter closes once; no name opened another
    assert "<img" not in body and "<b>" not in body and "\x1b" not in card
    assert "&lt;img src=x onerror=alert\\(1\\)&gt;" in body
    # every fenced block closes with the fence that opened it
    fences = re.findall(r"^(`{3,})", body, re.M)
    assert len(fences) % 2 == 0 and all(a == b for a, b in zip(fences[::2], fences[1::2]))
    # the table keeps two columns whatever a class is called
    rows = [line for line in body.splitlines() if line.startswith("| ") and "0.000 |" in line]
    assert all(len(re.findall(r"(?<!\\)\|", row)) in (3, 7) for row in rows)


def test_neck_py_takes_the_hub_weights_as_the_card_says(hub, hostile_run):
    module = load_module(hub / "neck.py")
    state = load_file(str(hub / "model.safetensors"))
    prefix = "network.neck."
    neck = module.build_neck()
    neck.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
    neck.eval()
    compiled = Checkpoint.read(hostile_run / "run" / "best.pt").detector().network.neck
    features = [torch.randn(1, c, 16 >> i, 16 >> i) for i, c in enumerate((128, 256, 512))]
    with torch.no_grad():
        diff = max(float((a - b).abs().max()) for a, b in zip(neck(features),
                                                              compiled(features)))
    assert diff <= 1e-5


def test_nasfpn_eval_reads_the_hub_weights(hub, hostile_run, run):
    data = hostile_run / HOSTILE_DATA
    code, out, err = run("eval", hub / "model.safetensors", "--ann",
                         data / "annotations" / "instances_val2017.json", "--images",
                         data / "val2017", "--json", "--workers", "0")
    assert code == 0, err
    assert set(json.loads(out)["per_class"]) == set(HOSTILE_CLASSES)


def test_eval_json_beside_the_checkpoint_is_the_cards_evaluation(hostile_run, run, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    shutil.copy(hostile_run / "run" / "best.pt", folder / "best.pt")
    (folder / "eval.json").write_text(json.dumps(
        {"AP": 0.4321, "AP50": 0.6, "AP75": 0.5, "APs": -1, "APm": 0.2, "APl": 0.3,
         "per_class": {"| x | y |": 0.4321}}))
    code, _, err = run("export", "nasfpn", "--checkpoint", folder / "best.pt", "--to", "hub",
                       "-o", tmp_path / "hub", "--no-verify")
    assert code == 0, err
    card = (tmp_path / "hub" / "README.md").read_text()
    assert "nasfpn eval, from eval.json" in card and "| 0.432 | 0.600 |" in card
    assert "| \\| x \\| y \\| | 0.432 |" in card

    (folder / "eval.json").write_text('{"AP": "high"}')
    code, _, err = run("export", "nasfpn", "--checkpoint", folder / "best.pt", "--to", "hub",
                       "-o", tmp_path / "hub2", "--no-verify")
    assert code == 1 and "eval.json: field 'AP' must be a number" in err
    assert "Traceback" not in err


def test_refuses_a_run_folder_and_a_file_as_the_hub_folder(hostile_run, run, tmp_path):
    checkpoint = hostile_run / "run" / "best.pt"
    code, _, err = run("export", "nasfpn", "--checkpoint", checkpoint, "--to", "hub", "-o",
                       hostile_run / "run")
    assert code == 2 and "holds a training run" in err
    afile = tmp_path / "file"
    afile.write_text("x")
    code, _, err = run("export", "nasfpn", "--checkpoint", checkpoint, "--to", "hub", "-o",
                       afile, "--no-verify")
    assert code == 1 and "not a folder" in err and afile.read_text() == "x"


@settings(max_examples=200, deadline=None, derandomize=True)
@given(text=st.text())
def test_yaml_and_markdown_escaping_keep_any_text_as_text(text):
    assert yaml.safe_load(f"key: {yaml_string(text)}")["key"] == text
    shown = markdown_text(text)
    assert "\n" not in shown and "<" not in shown and not re.search(r"(?<!\\)`", shown)
    block = code_block(text).split("\n")
    fence = block[0]
    assert all(not line.startswith(fence) for line in block[1:-1]) and block[-1] == fence


def test_python_export_takes_the_runs_options_from_its_checkpoint(hostile_run, run, tmp_path):
    checkpoint = hostile_run / "run" / "best.pt"
    code, out, err = run("export", "nasfpn", "--checkpoint", checkpoint, "-o",
                         tmp_path / "n.py", "--image-size", "128")
    assert code == 0, err
    module = load_module(tmp_path / "n.py")
    assert (module.IN_CHANNELS, module.CHANNELS, module.STACK) == ((128, 256, 512), 8, 1)
    code, _, err = run("export", "nasfpn", "--checkpoint", checkpoint, "-o",
                       tmp_path / "m.py", "--norm", "gn")
    assert code == 2 and "--norm gn (checkpoint: bn)" in err


def test_without_graphviz_the_drawing_is_dot_text(hostile_run, run, tmp_path, monkeypatch):
    import nasfpn_cli.render.graphviz as graphviz

    monkeypatch.setattr(graphviz, "find_dot", lambda: None)
    code, _, err = run("export", "nasfpn", "--checkpoint", hostile_run / "run" / "best.pt",
                       "--to", "hub", "-o", tmp_path / "hub", "--no-verify")
    assert code == 0, err
    assert "graphviz's 'dot' program is not installed" in err
    assert (tmp_path / "hub" / "neck.dot").read_text().startswith("digraph")
    assert not (tmp_path / "hub" / "neck.svg").exists()
    assert "(file `neck.dot`)" in (tmp_path / "hub" / "README.md").read_text()
