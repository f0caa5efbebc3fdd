"""The ``nasfpn`` command group.

Subcommands live one per module under ``nasfpn_cli.commands`` and are imported only when they
run, so ``nasfpn --help``, ``validate``, ``fmt``, ``draw`` ... never import torch.
"""
from __future__ import annotations

import importlib
import os
import sys

import click

from .errors import NasfpnError

# name -> (module under nasfpn_cli.commands, one-line help shown by ``nasfpn --help``)
COMMANDS: dict[str, tuple[str, str]] = {
    "list": ("list_cmd", "List the bundled genotypes."),
    "validate": ("validate", "Check genotypes: references, cycles, output levels."),
    "show": ("show", "Show a genotype's cells as a table."),
    "fmt": ("fmt", "Format a genotype canonically."),
    "draw": ("draw", "Draw a genotype as SVG/PNG/PDF/DOT."),
    "convert": ("convert", "Convert between dsl, block-specs and json."),
    "flops": ("flops", "Count parameters, MACs and FLOPs (fvcore)."),
    "bench": ("bench", "Time detectors: latency, images/s, peak memory."),
    "compare": ("compare", "Compare genotypes, runs and searches on one HTML page."),
    "export": ("export", "Export a detector to ONNX or TorchScript."),
    "data": ("data", "Check, synthesise, import (VOC, YOLO) or export COCO datasets."),
    "weights": ("weights", "List, download or add published backbone weights (ImageNet)."),
    "train": ("train", "Train a detector on COCO-format data."),
    "eval": ("eval_cmd", "Evaluate a checkpoint with COCO metrics."),
    "predict": ("predict", "Run a checkpoint on images; JSON and PNG out."),
    "plot": ("plot", "Plot training curves of a run directory."),
    "search": ("search", "Search for new genotypes (controller + proxy task)."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"nasfpn_cli.commands.{COMMANDS[name][0]}")
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, help_text) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nasfpn")
def cli() -> None:
    """nasfpn: NAS-FPN feature pyramids, from a text genotype to a trained detector."""


OUT_OF_MEMORY = ("out of memory\nhint: the sizes asked for (image size, batch, stack, channels, "
                 "classes) do not fit in this machine's memory; ask for smaller ones")


def _is_out_of_memory(exc: BaseException) -> bool:
    """torch reports a failed allocation as a RuntimeError (CPU) or OutOfMemoryError (CUDA),
    not as MemoryError."""
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("can't allocate memory" in text
                                              or "out of memory" in text.lower())


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Library warnings (PIL's decompression-bomb warning on a huge image...) as one
    ``warning:`` line like ours, without a source path and line from site-packages."""
    from .console import print_warning

    print_warning(str(message))


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the group and turns every user error into a message and exit code."""
    import warnings

    previous, warnings.showwarning = warnings.showwarning, _show_warning
    try:
        _run(argv)
    finally:
        warnings.showwarning = previous


def _run(argv: list[str] | None) -> None:
    try:
        result = cli.main(args=argv, prog_name="nasfpn", standalone_mode=False)
    except click.exceptions.Abort:
        from .console import print_error

        print_error("aborted")
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        from .console import safe_text

        exc.message = safe_text(exc.message)  # it may quote what was typed, escapes and all
        exc.show()
        sys.exit(exc.exit_code)
    except NasfpnError as exc:
        from .console import print_error

        print_error(exc.render())
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        from .console import print_error

        print_error("interrupted")
        sys.exit(130)
    except BrokenPipeError:
        _silence_stdout()
        sys.exit(1)
    except MemoryError:
        from .console import print_error

        print_error(OUT_OF_MEMORY)
        sys.exit(1)
    except OSError as exc:  # the machine refused (disk full, read-only, no such path): not a bug
        from .console import print_error, system_error_message

        _silence_stdout()
        print_error(system_error_message(exc))
        sys.exit(1)
    except Exception as exc:  # a bug in nasfpn, not the user's fault: short message unless debugging
        from .console import print_error

        if _is_out_of_memory(exc):
            print_error(OUT_OF_MEMORY)
            sys.exit(1)
        if os.environ.get("NASFPN_DEBUG"):
            raise

        print_error(f"internal error: {type(exc).__name__}: {exc}\n"
                    "hint: set NASFPN_DEBUG=1 for the traceback and please report it")
        sys.exit(3)
    # a command may return its exit code (e.g. ``validate`` returns 1 for an invalid genotype)
    _flush_stdout()
    sys.exit(result if isinstance(result, int) else 0)


def _flush_stdout() -> None:
    """Flush stdout now, so a full disk or closed pipe behind it is an error message and exit 1
    instead of Python's "Exception ignored" at interpreter shutdown."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        sys.exit(1)
    except OSError as exc:
        from .console import print_error, system_error_message

        _silence_stdout()
        print_error(system_error_message(exc, "standard output"))
        sys.exit(1)


def _silence_stdout() -> None:
    """Point stdout at the null device, dropping what could not be written, so the interpreter's
    own flush at exit does not fail a second time."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass
