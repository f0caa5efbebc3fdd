"""What a tensor read from a weights file must be before it is loaded into a model: dense, with
data, of the model tensor's kind of number, and finite.

``load_state_dict`` checks names and shapes only: a sparse or meta tensor crashed it deep in
torch (``copy_() between dense and sparse Tensors``), and int64, bool or complex weights of the
right shapes were cast silently (int64 weights round every value to 0), as were NaN and inf
(the training then stopped at its first step blaming the learning rate). Each rule here names
what it refuses; :func:`unusable_tensors` lists every tensor that breaks one.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor

# rule name -> (file tensor, model tensor) -> why it cannot be loaded, or None; in order, the
# first that applies is reported
Rule = Callable[[Any, Tensor], "str | None"]


def _not_a_tensor(value: object, own: Tensor) -> str | None:
    return None if isinstance(value, Tensor) else f"not a tensor ({type(value).__name__})"


def _not_dense(value: Tensor, own: Tensor) -> str | None:
    return None if value.layout == torch.strided else f"a {value.layout} tensor, not a dense one"


def _no_data(value: Tensor, own: Tensor) -> str | None:
    return "a meta tensor (a shape without data)" if value.is_meta else None


def _wrong_kind(value: Tensor, own: Tensor) -> str | None:
    if own.is_floating_point():
        return None if value.is_floating_point() else \
            f"dtype {str(value.dtype).removeprefix('torch.')}, expected floating point"
    if own.dtype != torch.bool and (value.is_floating_point() or value.is_complex()
                                    or value.dtype == torch.bool):
        return f"dtype {str(value.dtype).removeprefix('torch.')}, expected whole numbers"
    return None


def _not_finite(value: Tensor, own: Tensor) -> str | None:
    if not value.is_floating_point():
        return None
    bad = int((~torch.isfinite(value)).sum())
    return f"{bad} of its {value.numel()} values are NaN or infinite" if bad else None


RULES: dict[str, Rule] = {"tensor": _not_a_tensor, "dense": _not_dense, "data": _no_data,
                          "dtype": _wrong_kind, "finite": _not_finite}


def unusable_tensors(values: Mapping[str, object], own: Mapping[str, Tensor]) -> list[str]:
    """``KEY: reason`` for each tensor of ``values`` (a file's) that ``own`` (the model's state
    dict, same keys and shapes checked already) cannot take, sorted by key."""
    found = []
    for key in sorted(set(values) & set(own)):
        for rule in RULES.values():
            reason = rule(values[key], own[key])
            if reason is not None:
                found.append(f"{key}: {reason}")
                break
    return found


DENSE_FINITE = "weights are dense floating-point tensors with finite values"


def refuse_unusable(values: Mapping[str, object], own: Mapping[str, Tensor],
                    error: Callable[..., Exception], where: str, hint: str) -> None:
    """Raise ``error`` (a NasfpnError class) naming the tensors :func:`unusable_tensors`
    finds, ``where`` saying which file, ``hint`` what to do."""
    from ..utils import listed

    unusable = unusable_tensors(values, own)
    if unusable:
        raise error(f"{where}: {len(unusable)} tensor(s) cannot be loaded: "
                    f"{listed(unusable, MAX_LISTED)}", hint=f"{hint}: {DENSE_FINITE}")


MAX_LISTED = 8  # tensors named in a refusal
