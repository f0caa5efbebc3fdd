"""The rows of a comparison: what each command-line argument names, and its measured figures.

An argument is a run folder (``config.json`` + ``metrics.jsonl`` from ``nasfpn train``, read
through :class:`~nasfpn_cli.engine.run_store.RunStore`: the stored model, its best evaluation
and its curves), a search folder (``search.json``: its top-k
distinct architectures, built with the command's model options), a checkpoint file, or a
genotype (file or bundled name, built with the model options).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine.run_store import CONFIG_FILE as RUN_CONFIG, RunStore
from ..errors import UsageError


@dataclass
class Entry:
    """One compared model: how to build it, what a run measured, and what we measure here."""

    name: str
    kind: str  # "genotype", "run", "checkpoint" or "search"
    path: str
    genotype: Any
    spec: Any = None  # the stored ModelSpec of a run; None: built with the command's options
    best_eval: dict[str, Any] | None = None  # the best evaluation record of a run
    records: list[dict[str, Any]] = field(default_factory=list)  # metrics.jsonl of a run
    reward: float | None = None  # the search reward of a searched architecture
    training_image_size: int | None = None
    params: int = 0
    macs: int = 0
    latency_ms: float | None = None
    sources: tuple[str, ...] = ()  # the files it stands for: an output must not replace them

    @property
    def ap(self) -> float | None:
        return None if self.best_eval is None else float(self.best_eval["AP"])

    def build(self, spec_for: Callable[[Any], Any]) -> Any:
        """The detector (fresh weights: only its cost is measured); ``spec_for(genotype)``
        gives the ModelSpec of entries that do not bring their own."""
        from ..modeling.detector import build_detector

        return build_detector(self.spec if self.spec is not None else spec_for(self.genotype))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "path": self.path, "params": self.params,
                "macs": self.macs, "latency_ms": self.latency_ms, "AP": self.ap,
                "reward": self.reward}


def best_evaluation(records: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The evaluation record with the highest AP (the first of equals); None without any."""
    evals = [r for r in records if r.get("kind") == "eval" and isinstance(r.get("AP"), float)]
    return max(evals, key=lambda r: r["AP"]) if evals else None


def _run_entry(folder: Path) -> Entry:
    from ..engine.checkpoint import stored_image_size
    from ..modeling.spec import ModelSpec

    store = RunStore(folder)
    config = store.config()
    spec = ModelSpec.from_dict(config["model"], config["genotype_text"],
                               source=str(store.config_path))
    records = store.metrics()
    size = stored_image_size(config["train"], str(store.config_path))
    return Entry(spec.genotype.name or folder.name, "run", str(folder), spec.genotype, spec,
                 best_evaluation(records), records, training_image_size=size,
                 sources=tuple(str(path) for path in store.files))


def _checkpoint_entry(path: str) -> Entry:
    from ..engine.checkpoint import Checkpoint

    stored = Checkpoint.read(path)
    spec = stored.spec
    history = list(stored.state.get("metrics_history") or [])
    return Entry(spec.genotype.name or Path(path).stem, "checkpoint", path, spec.genotype, spec,
                 best_evaluation(history), history, training_image_size=stored.image_size,
                 sources=(path,))


def _search_entries(folder: Path, top: int) -> list[Entry]:
    from ..search.results import load_trials, rank_architectures, search_space_of
    from ..search.store import SearchStore

    sources = SearchStore(folder).sources()
    space = search_space_of(folder)
    ranked = rank_architectures(load_trials(folder))[:top]
    entries = []
    for rank, arch in enumerate(ranked, start=1):
        name = f"{folder.name}#{rank}"
        genotype = space.to_genotype(arch.decisions,
                                     name=re.sub(r"\W", "_", f"{folder.name}_top{rank}"))
        entries.append(Entry(name, "search", str(folder), genotype, reward=arch.reward,
                             sources=sources))
    return entries


def collect_entries(specs: Sequence[str], top: int = 3) -> list[Entry]:
    """The entries the arguments name, in order (a search folder gives its ``top`` best);
    UsageError for nothing, or a folder that is neither a run nor a search."""
    from ..engine.sources import is_checkpoint
    from ..utils import unique_names
    from ..modeling.spec import as_genotype
    from ..search.store import SearchStore

    if not specs:
        raise UsageError("nothing to compare", hint="name genotypes, run folders or search folders")
    entries: list[Entry] = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            if SearchStore(path).config.is_file():
                entries.extend(_search_entries(path, top))
            elif RunStore(path).is_run():
                entries.append(_run_entry(path))
            else:
                raise UsageError(f"{spec}: neither a run folder (no {RUN_CONFIG}) nor a search "
                                 f"folder (no {SearchStore(path).name('config')})")
        elif is_checkpoint(spec):
            entries.append(_checkpoint_entry(spec))
        else:
            genotype = as_genotype(spec)
            entries.append(Entry(genotype.name or path.stem, "genotype", spec, genotype,
                                 sources=(spec,)))
    for entry, name in zip(entries, unique_names([e.name for e in entries])):
        entry.name = name
    return entries


def entry_sources(entries: Sequence[Entry]) -> list[str]:
    """Every file the entries stand for: what a page written from them must not replace."""
    return [source for entry in entries for source in entry.sources]


def shared_image_size(entries: Sequence[Entry], default: int = 640) -> int:
    """The training size every trained entry shares, when there are only trained entries;
    ``default`` otherwise (all entries are measured at one size, so costs compare)."""
    sizes = {entry.training_image_size for entry in entries}
    return int(sizes.pop()) if len(sizes) == 1 and None not in sizes else default


def measure_entries(entries: Sequence[Entry], spec_for: Callable[[Any], Any], *,
                    image_size: int, device: str = "cpu",
                    latency_runs: int = 5,
                    on_step: Callable[[str], None] | None = None) -> None:
    """Fill in params and MACs (fvcore) of every entry and, unless ``latency_runs`` is 0, the
    median latency of its raw network at batch 1 (timed runs interleaved across entries)."""
    from ..analysis.counting import count_network
    from ..analysis.latency import BenchSettings, network_case, run_cases

    step = on_step or (lambda message: None)
    networks = []
    for entry in entries:
        step(f"counting {entry.name}")
        network = entry.build(spec_for).network
        report = count_network(network, image_size, name=entry.name)
        entry.params, entry.macs = report.params, report.macs
        networks.append(network)
    if latency_runs <= 0:
        return
    step("timing")
    settings = BenchSettings(image_size=image_size, device=device, warmup=1, runs=latency_runs)
    cases = [network_case(entry.name, network, settings)
             for entry, network in zip(entries, networks)]
    for entry, result in zip(entries, run_cases(cases, settings)):
        entry.latency_ms = result.median_s * 1e3
