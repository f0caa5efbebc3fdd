"""The settings of ``nasfpn search`` and ``search calibrate`` that are neither the reward's nor a
controller's, each declared once (:mod:`nasfpn_cli.settings`); their options are generated.

Torch-free and light: the search command reads these at start-up.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..limits import MAX_SEARCH_CELLS, MAX_SEED, max_local_processes
from ..genotype import OPS
from ..genotype.nodes import LEVEL_RANGE
from ..records import Check, flag, list_of, one_of, whole
from ..settings import setting
from .cost import DEFAULT_WEIGHT
from .store import CalibrationStore, SearchStore

# architectures or seeds of one calibration: each is a training, and a calibration of thousands
# runs for days and fills memory with its plan (issue 20: --sampled 100000000)
MAX_ARCHITECTURES = 1000


def _controllers() -> tuple[str, ...]:
    from .controllers import CONTROLLERS

    return tuple(CONTROLLERS)


@dataclass(frozen=True)
class ExecutorSettings:
    """Where trials run, for `search` and `search calibrate`."""

    workers: int = setting(1, section="trials", minimum=1,
                           help="Trials at once; local workers share the cores' torch threads.")
    executor: str = setting("local", section="trials", choices=("local", "ray"),
                            help="local: process pool; ray: Ray tasks (GPU each if any).")
    address: str | None = setting(None, section="trials",
                                  help="Ray cluster address (auto, ray://HOST:PORT).")
    threads: int | None = setting(None, section="trials", minimum=1,
                                  maximum=max_local_processes,
                                  help="Torch threads per local trial [default: cores // "
                                       "workers]; 1 on a machine shared with other work.")


@dataclass(frozen=True)
class SpaceSettings:
    """The search space, for `search` and for the architectures `search calibrate` samples."""

    space: str = setting("anchored", section="space", choices=("anchored", "paper"),
                         help="anchored: 5 to 10 cells of 2 or 3 inputs, holding FPN, PANet, "
                              "BiFPN and NAS-FPN, searched from them; paper: the NAS-FPN "
                              "paper's N cells of 2 inputs (default {default}).")
    cells: str | None = setting(None, section="space", metavar="N|LOW..HIGH",
                                help="Merging cells per pyramid; the last 5 are the outputs.",
                                unset_help="[default: 5..10; with --space paper 7]")
    max_inputs: int | None = setting(None, section="space", minimum=2, maximum=8,
                                     help="--space anchored: inputs per cell at most.",
                                     unset_help="[default: 3]")
    paper_constraints: bool = setting(False, section="space",
                                      help="The paper's extra rule: intermediate cells never "
                                           "produce P3 (stride 8).")


# a stored SearchSpace: the bounds of --cells, pyramid levels, the ops of the genotype language
SPACE_SHAPE: dict[str, Check] = {
    "num_cells": whole(5, MAX_SEARCH_CELLS),
    "levels": list_of(whole(LEVEL_RANGE.start, LEVEL_RANGE.stop - 1), "pyramid levels", 1),
    "ops": list_of(one_of(OPS), "binary ops", 1),
    "paper_constraints": flag,
}


def _files(store: type, *keys: str) -> str:
    """The names of a folder's main files, for an option's help."""
    return ", ".join(store.FILES[key] for key in keys)


@dataclass(frozen=True)
class SearchSettings:
    """What `nasfpn search` itself takes: the controller, the reward, the trials, ASHA and the
    cost objective (the controllers' and the reward's own settings are declared beside them)."""

    controller: str | None = setting(None, section="search", choices=_controllers,
                                     help="How architectures are proposed.",
                                     unset_help="[default: evolution in --space anchored, ppo "
                                                "in the paper's]")
    reward: str = setting("proxy", section="search", metavar="NAME[:ARG]",
                          help="proxy (train and score AP), supernet (score with the weights "
                               "of one shared supernet; its options --supernet-*), "
                               "similarity:GENOTYPE, or a registered plug-in.")
    trials: int = setting(100, section="search", minimum=1,
                          help="Finished trials to reach (a resumed search may raise it).")
    seed: int = setting(0, section="search", minimum=0, maximum=MAX_SEED)
    output_dir: str = setting("runs/search", section="search", short="-o", path="any",
                              help=f"{_files(SearchStore, 'config', 'trials', 'state', 'best')}"
                                   " go here.")
    resume: bool = setting(False, section="search", help="Continue the search in --output-dir.")
    scheduler: str = setting("none", section="search", choices=("none", "asha"),
                             help="asha: successive halving over the reward's budget (the "
                                  "proxy's epochs; the reward is the score at the highest "
                                  "budget reached).")
    asha_eta: int = setting(3, section="search", minimum=2,
                            help="asha: the best 1/ETA of a rung go on, with ETA x the epochs.")
    asha_min_epochs: int = setting(1, section="search", minimum=1,
                                   help="asha: the smallest budget.")
    macs_target: float | None = setting(None, section="search", minimum=0.0, min_open=True,
                                        metavar="MACS",
                                        help="Cost-aware reward: score x (neck MACs / MACS) ** "
                                             "weight above MACS (e.g. 2e7); neck as the reward "
                                             "builds it.")
    final_top_k: int = setting(10, section="search", minimum=0, maximum=1000,
                               help="Final selection: the best distinct architectures scored "
                                    "again at the end (0: none).")
    final_seeds: int = setting(2, section="search", minimum=0, maximum=100,
                               help="Final selection: more scorings of each, every one with a "
                                    "seed of its own (0: none); a supernet search's are short "
                                    "proxy trainings.")
    macs_weight: float = setting(DEFAULT_WEIGHT, section="search", maximum=0.0,
                                 help="The exponent of --macs-target (MnasNet: -0.07).")
    seed_from: str | None = setting(None, section="search", metavar="NAMES|FILES|none",
                                    help="evolution, local, ppo: the pyramids the search "
                                         "starts from (bundled names or genotype files, "
                                         "comma-separated), its first trials in that order.",
                                    unset_help="[default: fpn,panet,bifpn,nasfpn in --space "
                                               "anchored, none in the paper's]")


@dataclass(frozen=True)
class CalibrationSettings:
    """What `nasfpn search calibrate` itself takes: which architectures, how many seeds."""

    output_dir: str = setting("runs/calibration", section="calibration", short="-o",
                              path="folder",
                              help=f"{_files(CalibrationStore, 'plan', 'trainings', 'result')}"
                                   " go here.")
    architectures: str = setting("fpn,panet,nasfpn,bifpn", section="calibration",
                                 metavar="NAMES",
                                 help="Comma-separated bundled names or genotype files ('' none).")
    # with the bundled four K = 16, the fewest `--tune` trusts (tuning.MIN_ARCHITECTURES)
    sampled: int = setting(8, section="calibration", minimum=0, maximum=MAX_ARCHITECTURES,
                           help="Architectures sampled uniformly from the search space.")
    poor: int = setting(4, section="calibration", minimum=0, maximum=MAX_ARCHITECTURES,
                        help="Deliberately poor samples (cells read only the two coarsest "
                             "inputs).")
    seeds: int = setting(2, section="calibration", minimum=1, maximum=MAX_ARCHITECTURES,
                         help="Trainings per architecture and schedule.")
    seed: int = setting(0, section="calibration", minimum=0, maximum=MAX_SEED,
                        help="Draws the sampled architectures and the training seeds.")
    top_k: int = setting(3, section="calibration", minimum=1,
                         help="Report the overlap of the proxy's and the reference's top k.")
    resume: bool = setting(False, section="calibration",
                           help="Finish the calibration in --output-dir.")
    reference_from: str | None = setting(
        None, section="calibration", path="folder", metavar="DIR",
        help="An earlier calibration whose trainings are copied instead of run where the "
             "schedule, data and architecture match (its reference trainings above all: "
             "judge another proxy, or more architectures, at the cost of the new ones).")
    tune: bool = setting(False, section="calibration",
                         help="Choose the cheapest proxy that ranks like the reference from the "
                              "finished calibration in --output-dir (nothing is trained): "
                              "writes tuning.json, tuning.png and proxy.toml.")
    ladder_from: str | None = setting(
        None, section="calibration", metavar="DIR[,DIR...]",
        help="--tune: also the proxy rungs of these finished calibrations of the same "
             "architectures, seeds and reference (each run with another proxy and "
             "--reference-from --output-dir: other epochs, images or image size).")
    target: float = setting(0.6, section="calibration", minimum=0.0, maximum=1.0, min_open=True,
                            help="--tune: the Kendall tau the chosen proxy must reach on the "
                                 "architectures it is chosen on.")
