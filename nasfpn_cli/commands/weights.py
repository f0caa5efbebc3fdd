"""``nasfpn weights``: the published backbone weights (``--backbone-weights imagenet``...), what
the torch hub cache holds, a download into it, and the offline way in: a file fetched on another
machine, checked and copied into the cache.

``list`` and ``fetch`` never import torch; ``add`` does (it loads the file as the backbone)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import click

from ..errors import ModelError, UsageError
from ..modeling.pretrained import (ALIASES, PUBLISHED, TIMEOUT_S, PublishedWeights, cache_dir,
                                   regular_file)
from ..untrusted import shown_path
from ..utils import file_sha256

DEFAULT_NAME = "imagenet"


@click.group(name="weights")
def command() -> None:
    """List, download or add published backbone weights (the torch hub cache)."""


def _aliases(entry: PublishedWeights) -> list[str]:
    return [alias for alias, target in ALIASES.items() if target == entry.name]


def _names(backbone: str) -> list[str]:
    """The names ``backbone``'s published sets answer to: aliases first."""
    sets = PUBLISHED[backbone]
    return [alias for alias, target in ALIASES.items() if target in sets] + list(sets)


def _entry(backbone: str, name: str) -> PublishedWeights:
    """The published set; a usage error (exit 2) naming the choices otherwise."""
    if backbone not in PUBLISHED:
        raise UsageError(f"BACKBONE: no published weights for {backbone!r}",
                         hint="backbones with published weights: " + ", ".join(PUBLISHED))
    sets = PUBLISHED[backbone]
    wanted = ALIASES.get(name, name)
    if wanted not in sets:
        raise UsageError(f"NAME: {backbone} has no published weights {name!r}",
                         hint=f"{backbone}'s published weights: " + ", ".join(_names(backbone)))
    return sets[wanted]


def _rows() -> list[dict]:
    folder = cache_dir()
    rows = []
    for backbone, sets in PUBLISHED.items():
        for entry in sets.values():
            path = folder / entry.file_name
            rows.append({"backbone": backbone, "name": entry.name, "aliases": _aliases(entry),
                         "torchvision": entry.recipe, "file": entry.file_name, "url": entry.url,
                         "sha256_prefix": entry.sha256_prefix, "top1": entry.top1,
                         "size_mb": entry.size_mb, "path": str(path),
                         "cached": path.is_file()})  # by existence: use checks the hash
    return rows


@command.command("list")
@click.option("--json", "as_json", is_flag=True,
              help="Print the sets as a JSON list (path, cached, url, sha256_prefix...).")
def list_weights(as_json: bool) -> int:
    """Every published set of weights, and whether the cache holds its file.

    A cached file is recognised by its name here; its hash is checked each time a training
    uses it."""
    from rich import box
    from rich.table import Table

    from ..console import console, plain, safe_json

    rows = _rows()
    if as_json:
        click.echo(safe_json(json.dumps(rows, indent=2, ensure_ascii=False)))
        return 0
    aliases = "; ".join(f"{alias} = {target}" for alias, target in ALIASES.items())
    table = Table(title="published backbone weights (torchvision, ImageNet-1k)",
                  title_justify="left", caption=f"{aliases} for every backbone",
                  caption_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  show_edge=False)
    for column, justify in (("backbone", "left"), ("name", "left"), ("file", "left"),
                            ("top-1", "right"), ("size", "right"), ("cache", "left")):
        table.add_column(column, justify=justify, no_wrap=True)
    for row in rows:
        cached = plain("cached", "green") if row["cached"] else plain("missing", "yellow")
        table.add_row(row["backbone"], row["name"], row["file"],
                      f"{row['top1']:.1f}" if row["top1"] else "",
                      f"{row['size_mb']:.0f} MB" if row["size_mb"] else "", cached)
    console.print(table)
    console.print(plain(f"cache: {shown_path(cache_dir())}"))
    console.print(plain("fill it with `nasfpn weights fetch BACKBONE [NAME]`, or offline with "
                        "`nasfpn weights add BACKBONE [NAME] FILE`"))
    return 0


@command.command("fetch")
@click.argument("backbone")
@click.argument("name", default=DEFAULT_NAME)
@click.option("--timeout", type=click.FloatRange(min=0.1, max=3600), default=TIMEOUT_S,
              show_default=True, metavar="SECONDS",
              help="How long connecting, or each read, may wait before the download fails.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def fetch_weights(backbone: str, name: str, timeout: float, quiet: bool) -> int:
    """Download BACKBONE's published weights NAME (default imagenet) into the cache, checked
    against the sha256 digits of the file name, and print the file's path. A file already
    there is checked and kept."""
    from ..console import console, plain
    from ..modeling.pretrained import fetch

    entry = _entry(backbone, name)
    path = fetch(entry.url, entry.sha256_prefix, progress=not quiet, timeout=timeout,
                 add_command=f"nasfpn weights add {backbone} {name} FILE")
    console.print(plain(path))
    return 0


@command.command("add")
@click.argument("backbone")
@click.argument("name_file", nargs=-1, required=True, metavar="[NAME] FILE")
def add_weights(backbone: str, name_file: tuple[str, ...]) -> int:
    """Check FILE, a download of BACKBONE's published weights NAME (default imagenet) made on
    another machine, and copy it into the cache, where training finds it without network.

    FILE's sha256 must start with the digits of the published file name, and it must load as
    BACKBONE's state dict (every key by name and shape); otherwise nothing is copied."""
    if len(name_file) > 2:
        raise UsageError(f"weights add: got {len(name_file) + 1} arguments, expected BACKBONE "
                         "[NAME] FILE")
    name, file = (DEFAULT_NAME, *name_file) if len(name_file) == 1 else name_file
    entry = _entry(backbone, name)
    source = Path(file)
    if not os.path.lexists(source):
        raise UsageError(f"FILE {shown_path(source)}: no such file")
    regular_file(source, "FILE")  # a folder or FIFO is named as what it is
    from ..console import console, err_console, plain
    from ..modeling.pretrained import store

    target = cache_dir() / entry.file_name
    got = file_sha256(source)
    expected = entry.sha256_prefix
    if expected is not None and not got.startswith(expected):
        raise ModelError(f"{source}: sha256 {got[:len(expected)]}... is not the one of "
                         f"{entry.file_name} ({backbone} {entry.name}), which starts with "
                         f"{expected}; nothing was copied to {target.parent}",
                         hint=f"download {entry.url} again (the file is damaged or another one)")
    _check_loads(backbone, source)
    if target.is_file() and file_sha256(target) == got:
        err_console.print(plain(f"{entry.file_name} is in the cache already"))
    else:
        store(source, entry.file_name, expected)
        err_console.print(plain(f"checked {source} (sha256 {got[:16]}..., loads as {backbone}); "
                                "copied to the cache"))
    console.print(plain(target))
    return 0


def _check_loads(backbone: str, source: Path) -> None:
    """ModelError (listing the keys) unless ``source`` loads as ``backbone``'s state dict."""
    from ..modeling.backbones import build_backbone

    try:
        build_backbone(backbone, weights=source)
    except ModelError as exc:
        raise ModelError(f"{exc}\nnothing was copied to {cache_dir()}", hint=exc.hint) from None
