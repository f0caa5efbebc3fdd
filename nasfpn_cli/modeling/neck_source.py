"""A genotype's neck as the text of one self-contained Python file (torch and the standard
library only): ``nasfpn export GENOTYPE --to python``.

The file defines the merging cells the genotype uses, one ``Pyramid`` whose ``forward`` computes
the genotype's cells line by line (each under a comment with its line of genotype source), the
input pyramid (laterals and max-pooled extra levels), the neck class and ``build_neck()``. Its
modules sit where :func:`~nasfpn_cli.modeling.neck.build_neck` puts them, so both have the same
state-dict keys and a trained neck's weights load unchanged. Where mmdetection imports, the
class registers itself as a neck.

Nothing a genotype holds becomes code: names are made identifiers (:func:`python_names`,
:func:`class_name`), text goes into comments and the docstring escaped (:func:`comment_text`,
:func:`docstring_text`), and every other literal is written with ``repr``.
"""
from __future__ import annotations

import builtins
import inspect
import keyword
import re
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ..errors import ModelError
from ..genotype import OPS, Genotype, Plan, level_name, plan
from ..genotype.diagnostics import source_lines
from ..genotype.format import format_cell
from .layers import GROUP_NORM_GROUPS, MIN_CHANNELS_PER_GROUP, FrozenBatchNorm2d
from .neck import DEFAULT_IN_CHANNELS, FIRST_BACKBONE_LEVEL, _check_options
from .ops import WeightedSum

MAX_LINE = 99  # longer cell calls are split one argument a line
DOC_WIDTH = 96
INDENT = "    "
# names the generated forward methods use besides the features: never given to a feature
RESERVED = frozenset({"self", "features", "upsample", "downsample", "torch", "nn", "F", "math",
                      "Tensor", "List", "Sequence", "importlib"}) | frozenset(dir(builtins))


def _escaped(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 \
        else f"\\U{code:08x}"


def printable_text(text: str) -> str:
    """``text`` with every character that is not printable (controls, line and paragraph
    separators, format characters, lone surrogates) written as a backslash escape."""
    return "".join(c if c.isprintable() else _escaped(c) for c in str(text))


def comment_text(text: str) -> str:
    """``text`` safe after a ``#``: one line, nothing Python reads as a line break."""
    return printable_text(text)


def docstring_text(text: str) -> str:
    """``text`` (lines) safe inside a ``\"\"\"`` string: backslashes and quotes escaped, other
    unprintable characters shown as escapes, so the docstring reads back as the text shown."""
    lines = [printable_text(line) for line in str(text).split("\n")]
    return "\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in lines)


def _identifier(name: str) -> str:
    """``name`` when it is an identifier of ASCII letters, digits and ``_`` that no keyword or
    builtin takes and that is no dunder; else its letters and digits, prefixed ``f_``."""
    if (re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) and not keyword.iskeyword(name)
            and not keyword.issoftkeyword(name) and name not in RESERVED
            and not name.startswith("__")):
        return name
    return "f_" + "_".join(re.findall(r"[A-Za-z0-9]+", name))


def python_names(names: Iterable[str]) -> dict[str, str]:
    """Feature name -> a distinct Python identifier for it (the name itself when it can be)."""
    result: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        candidate = base = _identifier(name)
        number = 2
        while candidate in taken:
            candidate, number = f"{base}_{number}", number + 1
        result[name] = candidate
        taken.add(candidate)
    return result


def class_name(genotype: Genotype) -> str:
    """The neck class's name: the genotype's name (else its file's) in CamelCase + ``Neck``,
    letters and digits only (``nasfpn_7x256`` -> ``Nasfpn7x256Neck``)."""
    source = genotype.name or re.sub(r"\.[A-Za-z0-9]*$", "", re.split(r"[\\/]", genotype.path)[-1])
    words = re.findall(r"[A-Za-z0-9]+", source)
    stem = "".join(word[:1].upper() + word[1:] for word in words) or "Pyramid"
    return ("Pyramid" + stem if stem[0].isdigit() else stem) + "Neck"


def _default(function: Callable, parameter: str):
    return inspect.signature(function).parameters[parameter].default


# -- the building blocks the file may need, each emitted only when used ------------------------

@dataclass(frozen=True)
class Block:
    """Source of one helper class or function, and the expression that makes its module."""

    source: str
    make: str = ""  # format string; {n}: the number of inputs, {c}: channels


SUM_MERGE = Block('''
class SumMerge(nn.Module):
    """Elementwise sum of the resized inputs."""

    def forward(self, inputs: List[Tensor]) -> Tensor:
        out = inputs[0] + inputs[1]
        for feature in inputs[2:]:
            out = out + feature
        return out
''', "SumMerge()")

GLOBAL_POOL_ATTENTION = Block('''
class GlobalPoolAttention(nn.Module):
    """NAS-FPN's global-pooling attention: coarse + fine * sigmoid(global max pool(coarse));
    inputs[0] comes from the coarser source level."""

    def forward(self, inputs: List[Tensor]) -> Tensor:
        coarse, fine = inputs[0], inputs[1]
        gate = torch.sigmoid(torch.amax(coarse, dim=(2, 3), keepdim=True))
        return coarse + fine * gate
''', "GlobalPoolAttention()")

# the op's own class, word for word: the file computes what the compiled neck computes
WEIGHTED_SUM = Block("\n" + inspect.getsource(WeightedSum), "WeightedSum({n})")

# genotype op -> its merge module in the file (a plug-in op without an entry cannot be exported)
MERGE_BLOCKS: dict[str, Block] = {"sum": SUM_MERGE, "gp": GLOBAL_POOL_ATTENTION,
                                  "wsum": WEIGHTED_SUM}

FROZEN_BATCH_NORM = f'''
class FrozenBatchNorm2d(nn.Module):
    """Batch norm with fixed statistics and affine parameters (buffers, never trained)."""

    def __init__(self, num_features: int, eps: float = {_default(FrozenBatchNorm2d, "eps")!r}):
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x: Tensor) -> Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale.reshape(1, -1, 1, 1) + shift.reshape(1, -1, 1, 1)
'''


def _norm_function(body: str, helper: str = "") -> Block:
    return Block(helper + f'''
def make_norm(channels: int) -> nn.Module:
    """The normalisation after every conv of the neck."""
    return {body}
''')


# neck norm (the keys of modeling.layers.NORM_LAYERS) -> make_norm in the file
NORM_BLOCKS: dict[str, Block] = {
    "bn": _norm_function("nn.BatchNorm2d(channels)"),
    "syncbn": _norm_function("nn.SyncBatchNorm(channels)"),
    "gn": _norm_function(f"nn.GroupNorm(math.gcd({GROUP_NORM_GROUPS}, max(1, channels // "
                         f"{MIN_CHANNELS_PER_GROUP})), channels)"),
    "frozenbn": _norm_function("FrozenBatchNorm2d(channels)", FROZEN_BATCH_NORM),
    "none": _norm_function("nn.Identity()"),
}

# separable or not -> make_conv in the file
CONV_BLOCKS: dict[bool, Block] = {
    False: Block('''
def make_conv(channels: int) -> nn.Module:
    """The 3x3 conv of a cell (no bias: a norm follows)."""
    return nn.Conv2d(channels, channels, 3, padding=1, bias=False)
'''),
    True: Block('''
class SeparableConv2d(nn.Module):
    """Depthwise 3x3 conv, then a pointwise 1x1 conv (both without bias)."""

    def __init__(self, channels: int):
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False)
        self.pointwise = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))


def make_conv(channels: int) -> nn.Module:
    """The depthwise-separable 3x3 conv of a cell."""
    return SeparableConv2d(channels)
'''),
}

RESIZING = '''
def upsample(x: Tensor, factor: int) -> Tensor:
    """Nearest-neighbour upsampling by an integer factor (to a finer level)."""
    return F.interpolate(x, scale_factor=float(factor), mode="nearest")


def downsample(x: Tensor, factor: int) -> Tensor:
    """Max pooling with kernel = stride = factor (to a coarser level)."""
    return F.max_pool2d(x, kernel_size=factor, stride=factor)
'''

CELL_AND_LATERAL = '''
class Cell(nn.Module):
    """A merging cell: merge the inputs (already at the cell's level), add the residuals, then
    ReLU -> 3x3 conv -> norm."""

    def __init__(self, merge: nn.Module, channels: int):
        super().__init__()
        self.merge = merge
        self.conv = make_conv(channels)
        self.norm = make_norm(channels)

    def forward(self, inputs: List[Tensor], residuals: List[Tensor]) -> Tensor:
        out = self.merge(inputs)
        for residual in residuals:
            out = out + residual
        return self.norm(self.conv(F.relu(out)))


class Lateral(nn.Module):
    """1x1 conv (no bias) + norm: a backbone feature to the pyramid's channels."""

    def __init__(self, in_channels: int, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, channels, 1, bias=False)
        self.norm = make_norm(channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(self.conv(x))
'''

MMDETECTION = '''
# mmdetection's neck registry (3.x, then 2.x), when mmdetection imports: configs can then name
# the neck as dict(type="{name}", ...). Without it this file needs torch alone.
MMDET_REGISTRIES = (("mmdet.registry", "MODELS"), ("mmdet.models.builder", "NECKS"))


def register_with_mmdetection() -> bool:
    """Register {name} as an mmdetection neck; False when mmdetection does not import."""
    for module_name, registry_name in MMDET_REGISTRIES:
        try:
            registry = getattr(importlib.import_module(module_name), registry_name)
        except Exception:  # absent, or present with dependencies that do not import
            continue
        registry.register_module(module={name}, force=True)
        return True
    return False


register_with_mmdetection()
'''


@dataclass(frozen=True)
class InputLayout:
    """How backbone features C3.. become the genotype's inputs (as :class:`~.neck.InputPyramid`
    builds them): laterals on some backbone levels, then max-pooled extra levels."""

    lateral_levels: tuple[int, ...]
    lateral_sources: tuple[int, ...]  # index of each lateral's backbone feature
    extra_levels: tuple[int, ...]

    @classmethod
    def of(cls, in_levels: Sequence[int], input_levels: Sequence[int]) -> "InputLayout":
        top, wanted = max(in_levels), set(input_levels)
        extra = tuple(range(top + 1, max(wanted) + 1))
        laterals = tuple(level for level in in_levels
                         if level in wanted or (extra and level == top))
        return cls(laterals, tuple(list(in_levels).index(level) for level in laterals), extra)


def _call(target: str, function: str, arguments: Sequence[str], indent: str) -> list[str]:
    """``target = function([a, b], [r])``, split one argument a line when too long."""
    line = f"{indent}{target} = {function}({', '.join(arguments)})"
    if len(line) <= MAX_LINE:
        return [line]
    return ([f"{indent}{target} = {function}("]
            + [f"{indent}{INDENT}{argument}," for argument in arguments] + [f"{indent})"])


def _resized(variable: str, source: int, target: int) -> str:
    if source == target:
        return variable
    factor = 2 ** abs(source - target)
    return f"{'upsample' if source > target else 'downsample'}({variable}, {factor})"


def _resize_text(source: int, target: int) -> str:
    if source == target:
        return ""
    factor = 2 ** abs(source - target)
    return f" (upsampled x{factor})" if source > target else f" (max-pooled /{factor})"


class NeckSource:
    """The pieces of one exported file, built from a genotype's plan."""

    def __init__(self, genotype: Genotype, in_channels: Sequence[int], channels: int,
                 stack: int, norm: str, separable: bool):
        _check_options(genotype, tuple(in_channels), channels, stack)
        if norm not in NORM_BLOCKS:
            raise ModelError(f"unknown norm {norm!r}; choose one of: {', '.join(NORM_BLOCKS)}")
        self.genotype = genotype
        self.plan: Plan = plan(genotype)
        unknown = sorted({cell.op for cell in self.plan.cells} - set(MERGE_BLOCKS))
        if unknown:
            raise ModelError(f"op {', '.join(map(repr, unknown))} has no plain-PyTorch form to "
                             f"export; exportable ops: {', '.join(MERGE_BLOCKS)}")
        self.in_channels = tuple(in_channels)
        self.channels, self.stack, self.norm, self.separable = channels, stack, norm, separable
        self.names = python_names([*self.plan.inputs, *(c.name for c in self.plan.cells)])
        self.class_name = class_name(genotype)
        in_levels = range(FIRST_BACKBONE_LEVEL, FIRST_BACKBONE_LEVEL + len(self.in_channels))
        self.input_levels = [self.plan.levels[name] for name in self.plan.inputs]
        self.layout = InputLayout.of(in_levels, self.input_levels)
        self.out_levels = sorted(genotype.outputs)
        self.carry = [self.out_levels.index(level) for level in self.input_levels] \
            if stack > 1 else []

    @property
    def picks_inputs(self) -> bool:
        """Whether copy k+1 takes only some of copy k's outputs (inputs != outputs)."""
        return bool(self.carry) and self.carry != list(range(len(self.out_levels)))

    # -- text of the genotype ---------------------------------------------------------------

    def source_line(self, name: str) -> str:
        """The line of genotype source that wrote cell ``name`` (else its canonical text)."""
        cell = self.genotype.cell(name)
        lines = source_lines(self.genotype.source) if self.genotype.source else []
        if 1 <= cell.span.line <= len(lines) and lines[cell.span.line - 1].strip():
            return lines[cell.span.line - 1].strip()
        return format_cell(cell)

    def graph_lines(self) -> list[str]:
        """One line per compiled cell: level, op, inputs with their resizing, residuals."""
        levels = self.plan.levels
        inputs = " ".join(self.plan.inputs)
        lines = [f"inputs {inputs}: laterals of "
                 + ", ".join(f"C{level}" for level in self.layout.lateral_levels)
                 + "".join(f", {level_name(level)} = max pool /2 of {level_name(level - 1)}"
                           for level in self.layout.extra_levels)]
        width = max(len(cell.name) for cell in self.plan.cells)
        for cell in self.plan.cells:
            sources = ", ".join(name + _resize_text(levels[name], cell.level)
                                for name in cell.inputs)
            residual = "".join(f" + {name} (residual)" for name in cell.residuals)
            out = f"  -> out {level_name(cell.level)}" if cell.is_output else ""
            lines.append(f"{cell.name:<{width}} @ {level_name(cell.level)} = {cell.op}({sources})"
                         f"{residual}{out}")
        pruned = [cell.name for cell in self.genotype.cells
                  if cell.name not in {c.name for c in self.plan.cells}]
        if pruned:
            lines.append("(not computed, they reach no output: " + ", ".join(pruned) + ")")
        return lines

    def docstring(self, origin: str) -> str:
        genotype = self.genotype
        title = genotype.name or genotype.path
        ins = ", ".join(f"c{level}" for level in
                        range(FIRST_BACKBONE_LEVEL, FIRST_BACKBONE_LEVEL + len(self.in_channels)))
        outs = ", ".join(level_name(level) for level in self.out_levels)
        copies = f"{self.stack} stacked copies" if self.stack > 1 else "one copy"
        options = f"norm {self.norm}" + (", depthwise-separable convs" if self.separable else "")
        paragraphs = [
            f"The feature pyramid {title!r} as plain PyTorch: {copies} of the genotype below, "
            f"{self.channels} channels, {options}.",
            f"Written by {origin}. Self-contained: it imports torch and the standard library "
            "only.",
            "The state-dict keys are those of nasfpn's compiled neck (nasfpn_cli.build_neck("
            f"genotype, channels={self.channels}, stack={self.stack})): a nasfpn detector's neck "
            "weights load unchanged once the 'network.neck.' prefix of their keys is dropped. "
            "DropBlock, a training-time regulariser without weights, is left out.",
            "Graph of one copy (cells in the order they are computed; a coarser input is "
            "upsampled, a finer one max-pooled to the cell's level; the residual rule adds "
            "unused same-level features before the ReLU):"]
        usage = ["    neck = build_neck()",
                 f"    outputs = neck([{ins}])  # backbone features, channels "
                 + ", ".join(map(str, self.in_channels)),
                 f"    # outputs: [{outs}], {self.channels} channels each, finest first"]
        wrapped = [textwrap.fill(paragraph, DOC_WIDTH) for paragraph in paragraphs]
        text = [wrapped[0], "", wrapped[1], "", *usage, "", wrapped[2], "", wrapped[3], "",
                *(INDENT + line for line in self.graph_lines())]
        if self.picks_inputs:
            text += ["", "Copy k+1 takes copy k's outputs " + " ".join(
                level_name(level) for level in self.input_levels) + " as its inputs."]
        return docstring_text("\n".join(text))

    # -- code ---------------------------------------------------------------------------------

    def blocks(self) -> list[str]:
        ops = {cell.op for cell in self.plan.cells}
        merges = [block.source for op, block in MERGE_BLOCKS.items() if op in ops]
        return [RESIZING, NORM_BLOCKS[self.norm].source, CONV_BLOCKS[self.separable].source,
                *merges, CELL_AND_LATERAL]

    def pyramid_class(self) -> list[str]:
        inner = INDENT * 2
        lines = ["", "", "class Pyramid(nn.Module):",
                 f'{INDENT}"""One copy of the genotype: inputs '
                 f'{" ".join(level_name(l) for l in self.input_levels)} in, outputs '
                 f'{" ".join(level_name(l) for l in self.out_levels)} out."""',
                 "", f"{INDENT}def __init__(self, channels: int):",
                 f"{inner}super().__init__()", f"{inner}self.cells = nn.ModuleList(["]
        for cell in self.plan.cells:
            make = MERGE_BLOCKS[cell.op].make.format(n=len(cell.inputs))
            lines.append(f"{inner}{INDENT}Cell({make}, channels),  # "
                         + comment_text(f"{cell.name} @ {level_name(cell.level)}"))
        lines += [f"{inner}])", "",
                  f"{INDENT}def forward(self, features: List[Tensor]) -> List[Tensor]:"]
        for position, name in enumerate(self.plan.inputs):
            lines.append(f"{inner}{self.names[name]} = features[{position}]")
        levels = self.plan.levels
        for index, cell in enumerate(self.plan.cells):
            ordered = OPS[cell.op].ordered(list(cell.inputs), levels)
            arguments = [_resized(self.names[name], levels[name], cell.level) for name in ordered]
            residuals = [self.names[name] for name in cell.residuals]
            lines.append(f"{inner}# {comment_text(self.source_line(cell.name))}")
            lines += _call(self.names[cell.name], f"self.cells[{index}]",
                           [f"[{', '.join(arguments)}]", f"[{', '.join(residuals)}]"], inner)
        outputs = ", ".join(self.names[name] for name in self.plan.outputs)
        lines.append(f"{inner}return [{outputs}]")
        return lines

    def input_class(self) -> list[str]:
        inner = INDENT * 2
        layout = self.layout
        names = [f"C{FIRST_BACKBONE_LEVEL + i}" for i in range(len(self.in_channels))]
        built = [*layout.lateral_levels, *layout.extra_levels]
        lines = ["", "", "class InputPyramid(nn.Module):",
                 f'{INDENT}"""Backbone features {", ".join(names)} -> the pyramid\'s inputs: a '
                 'lateral per backbone level used,', f"{INDENT}then max pooling for the levels "
                 'above the backbone."""', "",
                 f"{INDENT}def __init__(self, in_channels: Sequence[int], channels: int):",
                 f"{inner}super().__init__()", f"{inner}self.laterals = nn.ModuleList(["]
        for level, source in zip(layout.lateral_levels, layout.lateral_sources):
            lines.append(f"{inner}{INDENT}Lateral(in_channels[{source}], channels),  # "
                         f"C{level} -> {level_name(level)}")
        lines += [f"{inner}])", "",
                  f"{INDENT}def forward(self, features: List[Tensor]) -> List[Tensor]:"]
        variables = {level: level_name(level).lower() for level in built}
        for index, (level, source) in enumerate(zip(layout.lateral_levels,
                                                    layout.lateral_sources)):
            lines.append(f"{inner}{variables[level]} = self.laterals[{index}](features[{source}])")
        for level in layout.extra_levels:
            lines.append(f"{inner}{variables[level]} = downsample({variables[level - 1]}, 2)")
        lines.append(f"{inner}return [{', '.join(variables[l] for l in self.input_levels)}]")
        return lines

    def size_check(self) -> list[str]:
        count = len(self.in_channels)
        divisor = 2 ** len(self.layout.extra_levels)
        stride = 2 ** (FIRST_BACKBONE_LEVEL + count - 1 + len(self.layout.extra_levels))
        return ["", "", "def check_sizes(features: List[Tensor]) -> None:",
                f'{INDENT}"""ValueError unless the {count} backbone features halve level by '
                f'level and the last divides by {divisor}', f'{INDENT}(image sides a multiple '
                f'of {stride})."""',
                f"{INDENT}if len(features) != {count}:",
                f'{INDENT * 2}raise ValueError(f"the neck takes {count} backbone features, got '
                '{len(features)}")',
                f"{INDENT}sizes = [tuple(feature.shape[-2:]) for feature in features]",
                f"{INDENT}top_h, top_w = sizes[-1]",
                f"{INDENT}halving = all(h == top_h * 2 ** ({count - 1} - i) and w == top_w * 2 ** "
                f"({count - 1} - i)",
                f"{INDENT * 4}  for i, (h, w) in enumerate(sizes))",
                f"{INDENT}if not halving or top_h % {divisor} or top_w % {divisor}:",
                f'{INDENT * 2}raise ValueError(f"feature sizes {{sizes}} do not form an exact '
                f'pyramid: pad the images to "',
                f'{INDENT * 6} f"a multiple of {stride}")']

    def neck_class(self) -> list[str]:
        inner = INDENT * 2
        name = self.class_name
        ins = ", ".join(f"C{FIRST_BACKBONE_LEVEL + i}" for i in range(len(self.in_channels)))
        outs = ", ".join(level_name(level) for level in self.out_levels)
        lines = ["", "", f"class {name}(nn.Module):",
                 f'{INDENT}"""forward([{ins}]) -> [{outs}]: the input pyramid, then',
                 f'{INDENT}`stack` copies of the genotype (default {self.stack}; copy k+1 takes '
                 'copy k\'s outputs)."""', "",
                 f"{INDENT}def __init__(self, in_channels: Sequence[int] = IN_CHANNELS, "
                 "channels: int = CHANNELS,",
                 f"{INDENT * 4} stack: int = STACK):",
                 f"{inner}super().__init__()",
                 f"{inner}if len(in_channels) != len(IN_CHANNELS):",
                 f'{inner}{INDENT}raise ValueError(f"in_channels: one per backbone level '
                 '{IN_CHANNELS}, "',
                 f'{inner}{INDENT * 4}     f"got {{list(in_channels)}}")',
                 f"{inner}self.inputs = InputPyramid(in_channels, channels)",
                 f"{inner}self.stacks = nn.ModuleList([Pyramid(channels) for _ in range(stack)])",
                 "",
                 f"{INDENT}def forward(self, features: List[Tensor]) -> List[Tensor]:",
                 f"{inner}if not torch.jit.is_scripting() and not torch.jit.is_tracing():",
                 f"{inner}{INDENT}check_sizes(features)",
                 f"{inner}features = self.inputs(features)"]
        if self.picks_inputs:
            picks = ", ".join(f"features[{index}]" for index in self.carry)
            lines += [f"{inner}for index, pyramid in enumerate(self.stacks):",
                      f"{inner}{INDENT}if index > 0:  # the previous copy's outputs at the "
                      "input levels",
                      f"{inner}{INDENT * 2}features = [{picks}]",
                      f"{inner}{INDENT}features = pyramid(features)"]
        else:
            lines += [f"{inner}for pyramid in self.stacks:",
                      f"{inner}{INDENT}features = pyramid(features)"]
        lines.append(f"{inner}return features")
        lines += ["", "", "def build_neck(in_channels: Sequence[int] = IN_CHANNELS, "
                  "channels: int = CHANNELS,",
                  f"{INDENT * 3}   stack: int = STACK) -> {name}:",
                  f'{INDENT}"""The neck, freshly initialised (load trained weights with '
                  'load_state_dict)."""',
                  f"{INDENT}return {name}(in_channels, channels, stack)"]
        return lines

    def text(self, origin: str) -> str:
        header = [f'"""{self.docstring(origin)}\n"""',
                  "import importlib", "import math", "from typing import List, Sequence", "",
                  "import torch", "import torch.nn.functional as F",
                  "from torch import Tensor, nn",
                  "", f"IN_CHANNELS = {self.in_channels!r}  # backbone C"
                  f"{FIRST_BACKBONE_LEVEL}.. channels",
                  f"CHANNELS = {self.channels!r}", f"STACK = {self.stack!r}", ""]
        body = [block.rstrip("\n") for block in self.blocks()]
        parts = ["\n".join(header), "\n\n".join(body), "\n".join(self.pyramid_class()),
                 "\n".join(self.input_class()), "\n".join(self.size_check()),
                 "\n".join(self.neck_class()), "\n" + MMDETECTION.format(name=self.class_name)]
        return "\n".join(parts).rstrip("\n") + "\n"


def neck_source(genotype: Genotype, *, in_channels: Sequence[int] = DEFAULT_IN_CHANNELS,
                channels: int = 256, stack: int = 1, norm: str = "bn", separable: bool = False,
                origin: str = "nasfpn export") -> str:
    """The text of a Python file whose ``build_neck()`` is ``genotype``'s neck with these
    options (ModelError for options the compiled neck refuses, or an op with no plain form)."""
    return NeckSource(genotype, in_channels, channels, stack, norm, separable).text(origin)
