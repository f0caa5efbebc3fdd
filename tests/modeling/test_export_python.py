"""``nasfpn export --to python``: the neck as one self-contained PyTorch file. For bundled and
random genotypes it gives the compiled neck's outputs with the same weights, scripts, exports to
ONNX and runs without nasfpn; names from a genotype never become code."""
from __future__ import annotations

import ast
import dataclasses
import io
import subprocess
import sys
import tokenize
import warnings

import numpy as np
import onnxruntime
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neck_export_helpers import SMALL_IN, exported_pair, features, load_module, max_diff
from nasfpn_cli.genotype import OPS, bundled_names, load_genotype, parse_genotype
from nasfpn_cli.genotype.ops import OpSpec, register_op, unregister_op
from nasfpn_cli.modeling.layers import NORM_LAYERS
from nasfpn_cli.modeling.neck import build_neck
from nasfpn_cli.modeling.neck_source import (MERGE_BLOCKS, NORM_BLOCKS, class_name, neck_source,
                                             python_names)
from nasfpn_cli.search.space import SearchSpace

TOLERANCE = 1e-5
FEW = settings(max_examples=6, deadline=None, derandomize=True,
               suppress_health_check=[HealthCheck.function_scoped_fixture,
                                      HealthCheck.too_slow])


def check_module(genotype, tmp_path, *, stack: int = 1, onnx: bool = True, script: bool = True,
                 **options) -> None:
    """The exported neck matches the compiled one eagerly, (``script``) scripted and
    (``onnx``) in onnxruntime."""
    compiled, exported, _ = exported_pair(genotype, tmp_path, stack=stack, **options)
    inputs = features()
    with torch.no_grad():
        want = compiled(inputs)
        assert max_diff(exported(inputs), want) <= TOLERANCE
        if script:
            scripted = torch.jit.script(exported)
            assert max_diff(scripted(inputs), want) <= TOLERANCE
    if onnx:
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(exported, (inputs,), buffer, dynamo=False, opset_version=17,
                              input_names=["c3", "c4", "c5"])
        session = onnxruntime.InferenceSession(buffer.getvalue(),
                                               providers=["CPUExecutionProvider"])
        got = session.run(None, {f"c{3 + i}": t.numpy() for i, t in enumerate(inputs)})
        assert max(float(np.abs(g - w.numpy()).max()) for g, w in zip(got, want)) <= 1e-4


@pytest.mark.parametrize("name", bundled_names())
def test_every_bundled_genotype_matches_scripts_and_exports_to_onnx(name, tmp_path):
    genotype = load_genotype(name)
    stackable = set(genotype.inputs) <= set(genotype.outputs)
    check_module(genotype, tmp_path, stack=2 if stackable else 1)


@pytest.mark.parametrize("name", bundled_names())
def test_state_dict_keys_are_the_compiled_necks_at_the_default_channels(name, tmp_path):
    genotype = load_genotype(name)
    path = tmp_path / "neck.py"
    path.write_text(neck_source(genotype, channels=16, stack=3))
    exported = load_module(path).build_neck()
    compiled = build_neck(genotype, channels=16, stack=3)
    assert ({k: tuple(v.shape) for k, v in exported.state_dict().items()}
            == {k: tuple(v.shape) for k, v in compiled.state_dict().items()})
    assert list(exported.state_dict()) == list(compiled.state_dict())


@pytest.mark.parametrize("norm", sorted(NORM_BLOCKS))
def test_every_norm_and_separable_convs(norm, tmp_path):
    # torch cannot script SyncBatchNorm (nor the compiled neck that holds it)
    check_module(load_genotype("nasfpn"), tmp_path, stack=2, norm=norm, separable=True,
                 onnx=False, script=norm != "syncbn")


def test_the_file_covers_every_norm_and_bundled_op():
    assert set(NORM_BLOCKS) == set(NORM_LAYERS)
    assert set(MERGE_BLOCKS) == set(OPS)


def test_random_genotypes_of_the_search_space(tmp_path):
    space = SearchSpace(num_cells=7)
    rng = np.random.default_rng(31)
    for index in range(4):
        genotype = space.to_genotype(space.sample(rng), name=f"sampled{index}")
        check_module(genotype, tmp_path, stack=2, onnx=index == 0)


@st.composite
def genotype_texts(draw) -> str:
    """A valid pyramid of 5..9 cells over P3..P7 whose cells take 2 or 3 inputs (sum, wsum) or
    two (gp); the last five cells are the outputs, one per level."""
    levels = [3, 4, 5, 6, 7]
    count = draw(st.integers(5, 9))
    residual = draw(st.sampled_from(["unconnected", "none"]))
    features = [f"P{level}" for level in levels]
    out_levels = draw(st.permutations(levels))
    lines = ["genotype random", "inputs P3 P4 P5 P6 P7", "outputs P3 P4 P5 P6 P7",
             f"residual {residual}"]
    for index in range(count):
        op = draw(st.sampled_from(["sum", "gp", "wsum"]))
        arity = 2 if op == "gp" else draw(st.integers(2, 3))
        chosen = draw(st.lists(st.sampled_from(features), min_size=arity, max_size=arity,
                               unique=True))
        output = index >= count - len(levels)
        level = out_levels[index - (count - len(levels))] if output \
            else draw(st.sampled_from(levels))
        name = f"c{index + 1}"
        lines.append(f"{name} = {op}({', '.join(chosen)}) @ P{level}"
                     + (" -> out" if output else ""))
        features.append(name)
    return "\n".join(lines) + "\n"


@FEW
@given(text=genotype_texts(), stack=st.integers(1, 2))
def test_random_genotypes_with_two_and_three_input_cells(text, stack, tmp_path):
    genotype = parse_genotype(text, "<random>")
    check_module(genotype, tmp_path, stack=stack, onnx=False)


def test_nine_cells_with_two_and_three_inputs_to_onnx(tmp_path):
    text = """genotype nine
inputs P3 P4 P5 P6 P7
outputs P3 P4 P5 P6 P7
a = sum(P7, P5, P3) @ P5
b = gp(a, P4) @ P4
c = wsum(b, P6, P3) @ P6
d = sum(c, a) @ P3
e = wsum(d, b, P7) @ P3 -> out
f = sum(e, c, a) @ P4 -> out
g = gp(f, c) @ P5 -> out
h = wsum(g, P6) @ P6 -> out
i = sum(h, d, P7) @ P7 -> out
"""
    check_module(parse_genotype(text, "<nine>"), tmp_path, stack=2)


SPARSE_INPUTS = ["""inputs P3 P5 P7
outputs P3 P4 P5 P6 P7
a = sum(P3, P7) @ P5
b = sum(a, P3) @ P3 -> out
c = gp(b, P5) @ P5 -> out
d = sum(c, P7, a) @ P7 -> out
e = wsum(d, c, b) @ P4 -> out
f = sum(e, d) @ P6 -> out
""", """inputs P4 P5 P6
outputs P4 P5 P6
a = sum(P4, P6) @ P5 -> out
b = wsum(a, P4, P6) @ P4 -> out
c = gp(b, a) @ P6 -> out
"""]


@pytest.mark.parametrize("text", SPARSE_INPUTS, ids=["P3-P5-P7 to P3..P7", "P4..P6"])
def test_inputs_that_skip_levels_and_stacks_that_pick_their_inputs(text, tmp_path):
    check_module(parse_genotype(text, "<sparse>"), tmp_path, stack=2, onnx=False)


def test_the_file_imports_torch_and_the_standard_library_alone(tmp_path):
    path = tmp_path / "my_neck.py"
    path.write_text(neck_source(load_genotype("bifpn"), in_channels=SMALL_IN, channels=8,
                                stack=2, norm="gn", separable=True))
    imported = _imports(ast.parse(path.read_text()))
    assert imported - set(sys.stdlib_module_names) == {"torch"}
    script = f"""
import sys
sys.modules["nasfpn_cli"] = None  # any import of nasfpn now fails
import importlib.util
spec = importlib.util.spec_from_file_location("my_neck", {str(path)!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
import torch
neck = module.build_neck().eval()
outs = neck([torch.randn(1, c, 64 >> i, 64 >> i) for i, c in enumerate({SMALL_IN!r})])
print([tuple(o.shape) for o in outs], type(neck).__name__, module.register_with_mmdetection())
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300, env={"OMP_NUM_THREADS": "1",
                                                         "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert "[(1, 8, 64, 64), (1, 8, 32, 32), (1, 8, 16, 16), (1, 8, 8, 8), (1, 8, 4, 4)]" \
        in result.stdout
    assert "BifpnNeck False" in result.stdout


HOSTILE = '''genotype __import__
inputs P3 P4 P5 P6 P7
outputs P3 P4 P5 P6 P7
self = sum(P3, P4) @ P4
None = gp(self, P6) @ P5
if = sum(None, self, P3) @ P3 -> out  # """ \f import os; os.system("x") \\
torch = sum(if, self) @ P4 -> out
features = wsum(torch, None, P5) @ P5 -> out
__class__ = sum(features, P6) @ P6 -> out
F = gp(__class__, P7) @ P7 -> out
'''


def _imports(tree: ast.AST) -> set[str]:
    """The top-level packages a module imports."""
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    return imported


def _names_in_code(text: str) -> set[str]:
    return {token.string for token in tokenize.generate_tokens(io.StringIO(text).readline)
            if token.type == tokenize.NAME}


def test_hostile_names_never_become_code(tmp_path):
    genotype = parse_genotype(HOSTILE, "<hostile>")
    # a genotype built in memory may carry any name and path
    renamed = dataclasses.replace(genotype, name='x"""\nimport os  # \u2028\r\x1b[31m',
                                  path='evil\\"""; import os\n.txt')
    for candidate in (genotype, renamed):
        text = neck_source(candidate, in_channels=SMALL_IN, channels=8, stack=2)
        tree = ast.parse(text)
        assert not {"os", "system"} & _names_in_code(text)
        assert _imports(tree) == {"importlib", "math", "typing", "torch"}
        docstring = ast.get_docstring(ast.parse(text), clean=False)
        assert "\x1b" not in docstring and "\u2028" not in docstring
    assert class_name(genotype) == "ImportNeck" and class_name(renamed) == "XImportOs31mNeck"
    assert "\\x1b[31m" in docstring  # shown as text
    check_module(genotype, tmp_path, stack=2, onnx=False)


def test_python_names_are_distinct_identifiers():
    names = python_names(["P3", "self", "f_self", "if", "None", "sum", "a-b", "a_b", "__x__"])
    assert len(set(names.values())) == len(names)
    assert all(value.isidentifier() for value in names.values())
    assert names["P3"] == "P3" and names["self"] == "f_self" and names["f_self"] == "f_self_2"


def test_cli_writes_a_checked_file(run, tmp_path):
    output = tmp_path / "my_neck.py"
    code, out, err = run("export", "nasfpn", "--to", "python", "-o", output, "--channels", "8",
                         "--stack", "2", "--norm", "gn", "--separable", "--image-size", "128")
    assert code == 0, err
    assert "NasfpnNeck" in out and "max abs diff  0" in out
    module = load_module(output)
    assert module.CHANNELS == 8 and module.STACK == 2 and module.IN_CHANNELS == (512, 1024, 2048)
    compiled = build_neck("nasfpn", channels=8, stack=2, norm="gn", separable=True)
    assert list(module.build_neck().state_dict()) == list(compiled.state_dict())
    text = output.read_text()
    assert text.count("# n5 = gp(n3, n4) @ P5 -> out") == 1 and "n5 @ P5 = gp(" in text


def test_cli_takes_the_options_of_a_backbone(run, tmp_path):
    output = tmp_path / "neck.py"
    code, _, err = run("export", "fpn", "-o", output, "--backbone", "resnet18", "--channels",
                       "8", "--stack", "1", "--image-size", "128")
    assert code == 0, err
    assert load_module(output).IN_CHANNELS == (128, 256, 512)


@pytest.mark.parametrize("args,code,message", [
    (["--to", "hub", "-o", "DIR"], 2, "--to hub describes a trained model: it needs --checkpoint"),
    (["-o", "n.py", "--exit-at", "1"], 2, "--exit-at does not apply to --to python"),
    (["-o", "n.py", "--norm", "layer"], 2, "'layer' is not one of"),
    (["-o", "n.py", "--backbone-only"], 2, "--backbone-only writes weights only; python"),
    (["-o", "DIR", "--to", "python"], 2, "is a folder; python writes a file"),
    (["-o", "n.txt", "--to", "hub", "--backbone-only"], 2, "hub cannot hold the backbone"),
])
def test_cli_usage_errors(run, tmp_path, args, code, message):
    (tmp_path / "DIR").mkdir(exist_ok=True)
    args = [str(tmp_path / a) if a in ("DIR", "n.py", "n.txt") else a for a in args]
    got, out, err = run("export", "fpn", *args)
    assert got == code and message in err and "Traceback" not in err


def test_an_op_without_a_plain_form_is_a_clear_error(run, tmp_path):
    register_op(OpSpec("twice", 2, 2, "test op", "nasfpn_cli.modeling.ops:SumMerge"))
    try:
        genotype = tmp_path / "g.txt"
        genotype.write_text("inputs P3 P4 P5 P6 P7\noutputs P3 P4 P5 P6 P7\n"
                            "a = twice(P3, P4) @ P3 -> out\nb = sum(a, P4) @ P4 -> out\n"
                            "c = sum(b, P5) @ P5 -> out\nd = sum(c, P6) @ P6 -> out\n"
                            "e = sum(d, P7) @ P7 -> out\n")
        code, _, err = run("export", genotype, "-o", tmp_path / "n.py", "--channels", "8",
                           "--stack", "1")
    finally:
        unregister_op("twice")
    assert code == 1 and "op 'twice' has no plain-PyTorch form" in err
    assert not (tmp_path / "n.py").exists()


def test_the_class_registers_with_mmdetection_where_it_imports(tmp_path):
    """A stand-in mmdetection 3 registry on the path: importing the file registers its class."""
    registry = tmp_path / "fake" / "mmdet"
    registry.mkdir(parents=True)
    (registry / "__init__.py").write_text("")
    (registry / "registry.py").write_text(
        "class Registry:\n"
        "    def __init__(self):\n        self.modules = {}\n"
        "    def register_module(self, module, force=False):\n"
        "        self.modules[module.__name__] = module\n"
        "MODELS = Registry()\n")
    path = tmp_path / "my_neck.py"
    path.write_text(neck_source(load_genotype("fpn"), in_channels=SMALL_IN, channels=8))
    script = (f"import sys; sys.path.insert(0, {str(tmp_path / 'fake')!r}); "
              f"sys.path.insert(0, {str(tmp_path)!r})\n"
              "import my_neck\nfrom mmdet.registry import MODELS\n"
              "neck = MODELS.modules['FpnNeck'](in_channels=[8, 16, 32], channels=8, stack=1)\n"
              "print(sorted(MODELS.modules), type(neck).__name__)\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300, env={"OMP_NUM_THREADS": "1",
                                                         "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert "['FpnNeck'] FpnNeck" in result.stdout
