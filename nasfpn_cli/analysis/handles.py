"""fvcore op handles: one small pure function per ATen operator our networks emit.

Each handle takes the traced node's input and output values and returns a count in the unit
fvcore uses: one multiply-add for convolutions (bias additions not counted, as in the papers'
"multiply-adds"), and one operation per element for everything else:

* elementwise arithmetic (add, sub, mul, div, rsqrt, relu, relu6, sigmoid): one per output element;
* batch norm in inference: one fused multiply-add per element (scale and shift);
* group norm: three per element (mean, variance, normalise with affine);
* reductions (sum, amax): one per input element; max pooling: one comparison per window element;
* nearest upsampling: one per output element (fvcore's own convention);
* pure data movement (reshape, view, select, padding, ...): zero, but counted, so that nothing the
  model emits is silently skipped.

Counts are per image. :mod:`.counting` traces an *empty* batch (B = 0: every shape is right but no
arithmetic runs, so counting a 640 px R-50 network takes about a second), and the handles read a
leading dimension of 0 as one image. Tensors without a batch dimension (per-channel vectors,
fusion weights) never have a leading 0, so their counts are unaffected.
"""
from __future__ import annotations

from collections.abc import Callable
from math import prod
from typing import Any

from fvcore.nn.jit_handles import conv_flop_count, get_shape

Handle = Callable[[list[Any], list[Any]], int]


def _shape(value: Any) -> list[int] | None:
    """The value's shape, with an empty batch (leading 0) counted as one image."""
    shape = get_shape(value)
    if shape and shape[0] == 0:
        return [1, *shape[1:]]
    return shape


def _numel(value: Any) -> int:
    shape = _shape(value)
    return int(prod(shape)) if shape is not None else 0


def _int_list(value: Any) -> list[int]:
    """A constant int list argument (a ``prim::ListConstruct`` of constants in traced graphs)."""
    constant = value.toIValue()
    if constant is None and value.node().kind() == "prim::ListConstruct":
        constant = [item.toIValue() for item in value.node().inputs()]
    return [constant] * 2 if isinstance(constant, int) else list(constant)


def convolution(inputs: list[Any], outputs: list[Any]) -> int:
    """Multiply-adds of a (possibly grouped or transposed) convolution."""
    transposed = bool(inputs[6].toIValue())
    return int(conv_flop_count(_shape(inputs[0]), get_shape(inputs[1]), _shape(outputs[0]),
                               transposed=transposed))


def per_output_element(inputs: list[Any], outputs: list[Any]) -> int:
    """Elementwise ops: one operation per output element (broadcasting included)."""
    return _numel(outputs[0])


def per_input_element(inputs: list[Any], outputs: list[Any]) -> int:
    """Reductions: one operation per element reduced."""
    return _numel(inputs[0])


def batch_norm(inputs: list[Any], outputs: list[Any]) -> int:
    """Inference batch norm is one multiply-add per element; training adds the statistics."""
    training = bool(inputs[5].toIValue())
    return _numel(inputs[0]) * (3 if training else 1)


def group_norm(inputs: list[Any], outputs: list[Any]) -> int:
    """Mean, variance and the normalising multiply-add: three per element."""
    return 3 * _numel(inputs[0])


def max_pool(inputs: list[Any], outputs: list[Any]) -> int:
    """One comparison per element of every pooling window."""
    return _numel(outputs[0]) * int(prod(_int_list(inputs[1])))


def data_movement(inputs: list[Any], outputs: list[Any]) -> int:
    """Views, copies and indexing do no arithmetic."""
    return 0


HANDLES: dict[str, Handle] = {
    "aten::_convolution": convolution,
    "aten::batch_norm": batch_norm,
    "aten::group_norm": group_norm,
    "aten::max_pool2d": max_pool,
    "aten::amax": per_input_element,
    "aten::sum": per_input_element,
    "aten::upsample_nearest2d": per_output_element,
    **{f"aten::{name}": per_output_element for name in (
        "add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_", "rsqrt", "relu", "relu_",
        "hardtanh", "hardtanh_", "sigmoid", "sigmoid_", "clamp", "clamp_")},
    **{f"aten::{name}": data_movement for name in (
        "reshape", "view", "flatten", "select", "slice", "contiguous", "constant_pad_nd",
        "permute", "unsqueeze", "squeeze", "size", "Int", "detach", "to", "expand", "cat")},
}
