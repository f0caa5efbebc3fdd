"""``nasfpn flops``: JSON keys, tables, comparison of several genotypes, errors."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from nasfpn_cli.cli import cli as nasfpn
from nasfpn_cli.errors import GenotypeNotFound

SMALL = ["--backbone", "resnet10", "--stack", "2", "--channels", "32", "--image-size", "256"]


def invoke(*args: str):
    return CliRunner().invoke(nasfpn, list(args), catch_exceptions=False)


def test_json_for_one_genotype():
    result = invoke("flops", "nasfpn", *SMALL, "--num-classes", "5", "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert {"params", "macs", "flops", "image_size", "uncounted", "components", "cells"} <= set(data)
    assert data["uncounted"] == [] and data["image_size"] == 256 and data["flops"] == 2 * data["macs"]
    assert [part["name"] for part in data["components"]] == ["backbone", "neck", "head"]
    assert [cell["name"] for cell in data["cells"]] == ["n1", "n2", "n3", "n4", "n5", "n6", "n7"]
    assert data["cells"][0]["stacks"] == 2


def test_tables_and_side_by_side_comparison():
    single = invoke("flops", "fpn", *SMALL)
    assert single.exit_code == 0
    for text in ("parameters", "MACs (multiply-adds)", "FLOPs (2 x MACs)", "per component",
                 "per cell (2 stacks)", "backbone", "uncounted ops"):
        assert text in single.output
    several = invoke("flops", "nasfpn", "fpn", *SMALL, "--image-size", "200")
    assert several.exit_code == 0
    assert "comparison" in several.output and "200x200" in several.output
    assert "computed at (padded)" in several.output and "256x256" in several.output
    both = json.loads(invoke("flops", "nasfpn", "fpn", *SMALL, "--json").output)
    assert [entry["model"] for entry in both] == ["nasfpn", "fpn"]


def test_neck_only():
    data = json.loads(invoke("flops", "bifpn", *SMALL, "--neck-only", "--json").output)
    assert data["components"][0]["name"] == "neck inputs" and data["uncounted"] == []
    assert data["params"] == sum(part["params"] for part in data["components"])


def test_user_errors_exit_1_with_a_message(cli):
    # the choices come from the backbone registry: an unknown one is a usage error (exit 2)
    result = cli("flops", "nasfpn", "--backbone", "vgg16")
    assert result.returncode == 2 and "'vgg16' is not one of 'resnet10'" in result.stderr
    assert "Traceback" not in result.stderr
    with pytest.raises(GenotypeNotFound, match="no-such-genotype"):
        invoke("flops", "no-such-genotype")
