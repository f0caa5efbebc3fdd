"""One error hierarchy for the whole tool.

Every error a user can cause derives from :class:`NasfpnError`; the CLI turns it into a clear
message and an exit code instead of a traceback.
"""
from __future__ import annotations

import re


class NasfpnError(Exception):
    """A user-facing error: ``str(error)`` is the message, ``exit_code`` what the CLI returns."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def render(self) -> str:
        """The message (and hint) as printed after ``error:``."""
        text = str(self)
        if self.hint:
            text += f"\nhint: {self.hint}"
        return text


class UsageError(NasfpnError):
    """Bad command-line usage (exit code 2)."""

    exit_code = 2


class GenotypeError(NasfpnError):
    """A genotype that cannot be used; carries every located diagnostic found."""

    def __init__(self, diagnostics: list, message: str | None = None):
        self.diagnostics = list(diagnostics)
        errors = [d for d in self.diagnostics if d.severity == "error"]
        if message is None:
            message = "\n".join(d.render() for d in errors) or "invalid genotype"
        super().__init__(message)


class GenotypeNotFound(NasfpnError):
    """Neither a file nor a bundled genotype of that name exists."""


class ModelError(NasfpnError):
    """A model cannot be built from the given options (channels, sizes, weights...)."""


class CheckpointError(NasfpnError):
    """A checkpoint is missing, unreadable or incompatible."""


class RunFileError(NasfpnError):
    """A file of a run folder (config.json, metrics.jsonl) that does not hold what nasfpn
    wrote there: the message names the file, the line and the field."""


class DatasetError(NasfpnError):
    """A dataset is missing, unreadable or inconsistent."""


class TrainingError(NasfpnError):
    """Training stopped (e.g. non-finite loss)."""


class SearchError(NasfpnError):
    """Architecture search cannot run with these settings."""


_GLOBAL_RE = re.compile(r"GLOBAL ([\w.]+)")
PICKLED_CODE = ("it holds pickled Python objects{what} besides tensors and plain data; nasfpn "
                "never loads those, as unpickling them can run arbitrary code")
# a pattern of torch.load's message -> what it means, in our words (first match wins; a file
# that is no torch file at all must not be blamed on pickled code)
TORCH_LOAD_REASONS: tuple[tuple[re.Pattern, str], ...] = (
    (re.compile(r"Unsupported operand|invalid load key|could not find MARK|STACK_GLOBAL"
                r"|unpickling stack underflow"),
     "not a torch file: its bytes are no pickle torch writes (another format, or garbage)"),
    (re.compile(r"PytorchStreamReader|central directory|zip archive|file_size|truncated"
                r"|negative seek value"),
     "a damaged or truncated torch file: its zip archive is incomplete"),
)
MAX_REASON_CHARACTERS = 200


def torch_load_failure(exc: BaseException) -> str:
    """Why ``torch.load(..., weights_only=True)`` refused a file, in our words. Torch's own
    message advises retrying with ``weights_only=False``: for a file from elsewhere that is the
    advice to run its code, so it is never repeated. (Torch-free: only the message is read.)"""
    text = str(exc)
    found = _GLOBAL_RE.search(text)
    if found:
        return PICKLED_CODE.format(what=f" ({found.group(1)})")
    for pattern, reason in TORCH_LOAD_REASONS:
        if pattern.search(text):
            return reason
    if isinstance(exc, EOFError) or not text.strip():
        return f"an empty or truncated file ({type(exc).__name__})"
    if "Weights only load failed" in text:
        return PICKLED_CODE.format(what="")
    first = text.strip().splitlines()[0]
    if "weights_only" in first:
        return type(exc).__name__
    sentence = first.split(". ")[0]
    if len(sentence) > MAX_REASON_CHARACTERS:  # cut at a word, and say so
        sentence = sentence[:MAX_REASON_CHARACTERS].rsplit(" ", 1)[0] + " ..."
    return f"{type(exc).__name__}: {sentence}"
