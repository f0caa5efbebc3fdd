"""The compiled neck: exact parameter count, the reference semantics written out by hand,
stacking, TorchScript/trace/compile, input-size errors and option checks."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nasfpn_cli.errors import ModelError
from nasfpn_cli.genotype import bundled_names, parse_genotype
from nasfpn_cli.modeling.dropblock import DropBlock2d
from nasfpn_cli.modeling.spec import DropBlockSpec
from nasfpn_cli.modeling.neck import Neck, build_neck

IN_CHANNELS = (8, 16, 32)


def backbone_features(size: int = 128, batch: int = 2, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, channels, size // 2 ** level, size // 2 ** level, generator=generator)
            for level, channels in zip((3, 4, 5), IN_CHANNELS)]


@pytest.fixture(scope="module")
def small_nasfpn() -> Neck:
    torch.manual_seed(0)
    neck = build_neck("nasfpn", IN_CHANNELS, channels=16, stack=2)
    # non-trivial norm statistics so that eval mode differs from identity
    with torch.no_grad():
        for module in neck.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    return neck.eval()


def test_nasfpn_7_at_256_on_resnet50_has_the_exact_parameter_count():
    neck = build_neck("nasfpn")
    assert sum(p.numel() for p in neck.parameters()) == 29_845_504
    # laterals 1x1 (512+1024+2048) x 256 + BN, then 7 stacks x 7 cells x (3x3 256->256 + BN)
    assert 29_845_504 == 3584 * 256 + 3 * 512 + 49 * (9 * 256 * 256 + 512)
    assert neck.num_stacks == 7 and neck.channels == 256 and neck.strides == (8, 16, 32, 64, 128)


def reference_nasfpn(neck: Neck, features: list[torch.Tensor]) -> list[list[torch.Tensor]]:
    """DESIGN.md's NAS-FPN written out by hand, using the neck's own layers' weights."""
    def lateral(index, x):
        layer = neck.inputs.laterals[index]
        return layer.norm(layer.conv(x))

    def up(x, factor):
        return F.interpolate(x, scale_factor=factor, mode="nearest")

    def down(x, factor):
        return F.max_pool2d(x, factor, factor)

    def gp(coarse, fine):
        return coarse + fine * torch.sigmoid(coarse.amax(dim=(2, 3), keepdim=True))

    p3, p4, p5 = (lateral(i, x) for i, x in enumerate(features))
    p6 = down(p5, 2)
    p7 = down(p6, 2)
    results = []
    for stack in neck.stacks:
        def post(index, x, cells=stack.cells):
            return cells[index].norm(cells[index].conv(F.relu(x)))

        n1 = post(0, gp(up(p6, 4), p4))  # gp(P6, P4) @ P4: P6 is the coarser source
        n2 = post(1, n1 + p4)
        n3 = post(2, up(n2, 2) + p3)
        n4 = post(3, down(n3, 2) + n2)
        n5 = post(4, gp(down(n4, 2), down(n3, 4)) + p5)  # + P5 by the residual rule
        n6 = post(5, gp(down(n5, 4), down(n2, 8)) + p7)  # + P7 by the residual rule
        n7 = post(6, gp(up(n6, 2), down(n5, 2)))
        p3, p4, p5, p6, p7 = n3, n4, n5, n7, n6
        results.append([p3, p4, p5, p6, p7])
    return results


def test_compiled_neck_matches_the_hand_written_reference(small_nasfpn):
    features = backbone_features()
    with torch.no_grad():
        expected = reference_nasfpn(small_nasfpn, features)
        stacks = small_nasfpn.forward_stacks(features)
        outputs = small_nasfpn(features)
    assert len(stacks) == 2
    for got, want in zip(stacks, expected):
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    assert [tuple(o.shape) for o in outputs] == [(2, 16, 128 // s, 128 // s) for s in (8, 16, 32, 64, 128)]
    assert all(torch.equal(a, b) for a, b in zip(outputs, stacks[-1]))
    assert [len(s) for s in small_nasfpn.forward_stacks(features, 1)] == [5]


def test_residual_and_gp_ordering_are_resolved_at_build_time(small_nasfpn):
    cells = {cell.name: cell for cell in small_nasfpn.stacks[0].cells}
    # features: P3..P7 are 0..4, then n1..n7 are 5..11
    assert cells["n1"].input_indices == [3, 1]  # P6 (coarse) before P4
    assert cells["n5"].residual_indices == [2] and cells["n6"].residual_indices == [4]
    assert cells["n7"].residual_indices == [] and cells["n7"].input_indices == [10, 9]
    assert small_nasfpn.stacks[0].output_indices == [7, 8, 9, 11, 10]
    assert small_nasfpn.cell_names()[:2] == ["s1/n1", "s1/n2"]


def test_script_and_trace_agree_with_eager(small_nasfpn):
    features = backbone_features()
    with torch.no_grad():
        eager = small_nasfpn(features)
        scripted = torch.jit.script(small_nasfpn)
        traced = torch.jit.trace(small_nasfpn, (features,), strict=False, check_trace=False)
        for outputs in (scripted(features), traced(features)):
            for a, b in zip(outputs, eager):
                torch.testing.assert_close(a, b)
        assert len(scripted.forward_stacks(features)) == 2


def test_torch_compile_captures_the_neck_in_one_graph():
    neck = build_neck("nasfpn", IN_CHANNELS, channels=8, stack=1).eval()
    features = backbone_features(batch=1)
    compiled = torch.compile(neck, backend="eager", fullgraph=True)  # fails on any graph break
    with torch.no_grad():
        for a, b in zip(compiled(features), neck(features)):
            torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name", bundled_names())
def test_every_bundled_genotype_compiles_and_trains(name):
    torch.manual_seed(0)
    neck = build_neck(name, IN_CHANNELS, channels=16, stack=2)
    outputs = neck(backbone_features())
    assert [o.shape[-1] for o in outputs] == [16, 8, 4, 2, 1]
    sum(o.square().mean() for o in outputs).backward()
    no_grad = [n for n, p in neck.named_parameters() if p.grad is None]
    assert not no_grad, f"parameters without gradient: {no_grad}"


def test_channels_and_stack_come_from_the_file_when_none():
    genotype = parse_genotype("genotype tiny\nstack 3\nchannels 24\n"
                              "a = sum(P4, P3) @ P3 -> out\nb = sum(a, P4) @ P4 -> out\n"
                              "c = sum(b, P5) @ P5 -> out\nd = sum(c, P6) @ P6 -> out\n"
                              "e = sum(d, P7) @ P7 -> out\n")
    neck = build_neck(genotype, IN_CHANNELS, channels=None, stack=None)
    assert neck.num_stacks == 3 and neck.channels == 24
    assert build_neck(genotype, IN_CHANNELS, channels=8, stack=1).num_stacks == 1
    assert build_neck("fpn", IN_CHANNELS, channels=None, stack=None).num_stacks == 7


def test_sizes_that_do_not_form_a_pyramid_are_a_clear_error(small_nasfpn):
    features = [torch.zeros(1, c, s, s) for c, s in zip(IN_CHANNELS, (13, 7, 4))]  # a 100 px image
    with pytest.raises(ModelError, match=r"C3 13x13, C4 7x7, C5 4x4.*multiple of 128"):
        small_nasfpn(features)
    with pytest.raises(ModelError, match="takes 3 backbone features"):
        small_nasfpn(features[:2])


@pytest.mark.parametrize("kwargs, message", [
    (dict(channels=0), "channels must be a positive integer"),
    (dict(stack=0), "stack must be a positive integer"),
    (dict(norm="ln"), "unknown norm 'ln'"),
    (dict(in_channels=(8, 0, 32)), "in_channels"),
    (dict(dropblock={"size": 3}), r"dropblock: unknown field\(s\) size"),
])
def test_bad_options_are_model_errors(kwargs, message):
    with pytest.raises(ModelError, match=message):
        build_neck("nasfpn", **{"in_channels": IN_CHANNELS, "channels": 16, "stack": 1, **kwargs})


def test_stacking_needs_every_input_level_among_the_outputs():
    genotype = parse_genotype("genotype partial\noutputs P3 P4\n"
                              "a = sum(P4, P3) @ P3 -> out\nb = sum(a, P5) @ P4 -> out\n")
    assert len(build_neck(genotype, IN_CHANNELS, channels=8, stack=1)(backbone_features())) == 2
    with pytest.raises(ModelError, match="inputs P5, P6, P7 are not outputs"):
        build_neck(genotype, IN_CHANNELS, channels=8, stack=2)


def test_separable_convs_and_dropblock_are_per_cell_options():
    neck = build_neck("nasfpn", IN_CHANNELS, channels=16, stack=1, separable=True,
                      dropblock=DropBlockSpec(block_size=3, keep_prob=0.9))
    cell = neck.stacks[0].cells[0]
    assert sum(p.numel() for p in cell.parameters()) == 9 * 16 + 16 * 16 + 2 * 16  # dw + pw + BN
    assert isinstance(cell.dropblock, DropBlock2d) and cell.dropblock.final_keep_prob == 0.9
    plain = build_neck("nasfpn", IN_CHANNELS, channels=16, stack=1).stacks[0].cells[0]
    assert isinstance(plain.dropblock, torch.nn.Identity)  # off by default
