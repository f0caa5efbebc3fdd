"""The one-shot supernet over the anchored space (issue 28): every anchor and random points run
as their stand-alone necks with the same weights; a cell role's conv, norms and ``wsum``
weights are shared across paths; training paths are a function of (seed, step)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nasfpn_cli.errors import SearchError
from nasfpn_cli.genotype import load_genotype
from nasfpn_cli.modeling.neck import build_neck
from nasfpn_cli.search.anchored import ANCHORS, AnchoredSpace
from nasfpn_cli.search.edits import lower_bound
from nasfpn_cli.search.supernet import ANCHORED_NORM_SCOPES
from nasfpn_cli.search.supernet.anchored_neck import (AnchoredSupernetNeck, anchor_points,
                                                      point_genotype)
from nasfpn_cli.search.supernet.model import sample_path
from supernet_maps import IN_CHANNELS, backbone_maps

SPACE = AnchoredSpace()


def supernet(stacks: int = 2, norm_scope: str = "inputs", space: AnchoredSpace = SPACE):
    torch.manual_seed(0)
    return AnchoredSupernetNeck(space, IN_CHANNELS, 8, stacks, norm_scope=norm_scope)


def randomise(module: torch.nn.Module) -> None:
    """Non-trivial norms and wsum weights, so a wrong module shows."""
    generator = torch.Generator().manual_seed(1)
    for name, tensor in module.named_parameters():
        if name.endswith("merge.weight"):
            tensor.data.copy_(torch.rand(tensor.shape, generator=generator) + 0.2)
    for norm in module.modules():
        if isinstance(norm, torch.nn.BatchNorm2d):
            for tensor in (norm.weight, norm.bias, norm.running_mean):
                tensor.data.copy_(torch.randn(tensor.shape, generator=generator))
            norm.running_var.data.copy_(torch.rand(norm.running_var.shape,
                                                   generator=generator) + 0.5)


def copy_into_supernet(net: AnchoredSupernetNeck, neck, genotype) -> None:
    """The stand-alone neck's weights into the supernet modules of the genotype's path."""
    roles = net.roles(genotype)
    net.inputs.load_state_dict(neck.inputs.state_dict())
    compiled = net.compile(genotype)
    for stack_index, (stack, path_stack) in enumerate(zip(neck.stacks, compiled.stacks)):
        for cell, path_cell in zip(stack.cells, path_stack.cells):
            role = roles[cell.name]
            assert path_cell.conv is net.convs[stack_index][role]
            path_cell.conv.load_state_dict(cell.conv.state_dict())
            path_cell.norm.load_state_dict(cell.norm.state_dict())
            path_cell.merge.load_state_dict(cell.merge.state_dict())


def points(count: int, seed: int = 4) -> list:
    rng = np.random.default_rng(seed)
    return [SPACE.to_genotype(SPACE.sample(rng)) for _ in range(count)]


@pytest.mark.parametrize("norm_scope", sorted(ANCHORED_NORM_SCOPES))
def test_every_anchor_and_random_points_run_as_their_stand_alone_necks(norm_scope):
    genotypes = ([load_genotype(name) for name in ANCHORS] + points(3)
                 if norm_scope == "inputs" else [load_genotype("bifpn")] + points(1))
    for genotype in genotypes:
        spelled = point_genotype(SPACE, genotype)  # the same pyramid, the space's spelling
        net = supernet(norm_scope=norm_scope)
        neck = build_neck(spelled, IN_CHANNELS, 8, 2)
        randomise(neck)
        copy_into_supernet(net, neck, spelled)
        net.use(genotype)
        for training in (False, True):
            net.train(training)
            neck.train(training)
            for a, b in zip(neck(backbone_maps()), net(backbone_maps())):
                torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_a_cell_roles_weights_are_shared_across_paths():
    net = supernet(stacks=1)
    own = {id(p) for p in net.parameters()}
    fpn, panet, bifpn = (net.compile(load_genotype(name)) for name in ("fpn", "panet", "bifpn"))
    for path in (fpn, panet, bifpn, *(net.compile(sample_path(SPACE, 0, s)) for s in range(8))):
        assert {id(p) for p in path.parameters()} <= own  # nothing new is built per path

    def cell(path, level):  # the output cell of a level
        return next(c for c in path.stacks[0].cells if c.level == level and
                    path.genotype.cells[[x.name for x in path.genotype.cells].index(c.name)]
                    .is_output)

    for level in SPACE.levels:  # FPN's, PANet's and BiFPN's outputs of a level: one conv
        assert cell(fpn, level).conv is cell(panet, level).conv is cell(bifpn, level).conv
    # the first top-down cells of PANet and BiFPN (both n1 @ P6) share their conv and norm
    assert panet.stacks[0].cells[0].conv is bifpn.stacks[0].cells[0].conv
    # BiFPN's 3-input wsum outputs use the shared weights of 3-input wsums
    p4 = cell(bifpn, 4)
    assert p4.merge is net.merges[0][net.roles(bifpn.genotype)[p4.name]]["wsum3"]
    # a gradient through one path reaches the shared conv every path of that role uses
    net.train()
    net.use(fpn)
    sum(o.sum() for o in net(backbone_maps())).backward()
    assert cell(panet, 3).conv.weight.grad is not None


def test_split_by_cells_gives_each_cell_count_a_sub_supernet_of_its_own():
    """Few-shot: FPN (5 cells) and PANet (8) share no neck weight; PANet and BiFPN (8 each)
    share theirs as in the one-shot supernet; each runs as its stand-alone neck."""
    torch.manual_seed(0)
    net = AnchoredSupernetNeck(SPACE, IN_CHANNELS, 8, 1, split="cells")
    counts = SPACE.cells[1] - SPACE.cells[0] + 1
    assert len(net.convs[0]) == counts * len(supernet(stacks=1).convs[0])
    fpn, panet, bifpn = (net.compile(load_genotype(name)) for name in ("fpn", "panet", "bifpn"))
    assert not {id(p) for p in fpn.stacks.parameters()} & {id(p) for p in panet.stacks.parameters()}
    assert panet.stacks[0].cells[0].conv is bifpn.stacks[0].cells[0].conv
    for name in ("fpn", "panet"):
        spelled = point_genotype(SPACE, load_genotype(name))
        torch.manual_seed(0)
        net = AnchoredSupernetNeck(SPACE, IN_CHANNELS, 8, 2, split="cells")
        neck = build_neck(spelled, IN_CHANNELS, 8, 2)
        randomise(neck)
        copy_into_supernet(net, neck, spelled)
        net.use(spelled)
        net.eval()
        neck.eval()
        for a, b in zip(neck(backbone_maps()), net(backbone_maps())):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(SearchError, match="split 'levels'"):
        AnchoredSupernetNeck(SPACE, IN_CHANNELS, 8, 1, split="levels")


def test_norms_per_number_of_merged_features():
    net = supernet(stacks=1)
    assert len(net.norms[0][0]) == len(SPACE.levels) * SPACE.max_inputs
    bifpn = net.compile(load_genotype("bifpn"))
    two, three = bifpn.stacks[0].cells[3], bifpn.stacks[0].cells[4]  # p3: 2 inputs; p4: 3
    assert (len(two.input_indices), len(three.input_indices)) == (2, 3)
    same_role = net.compile(load_genotype("panet")).stacks[0].cells[4]  # panet's p4: 2 inputs
    assert same_role.conv is three.conv and same_role.norm is not three.norm
    assert len(supernet(norm_scope="cell").norms[0][0]) == 1
    with pytest.raises(SearchError, match="norm scope 'block'"):
        supernet(norm_scope="block")


def test_training_paths_are_a_function_of_seed_and_step_and_stay_near_the_anchors():
    first = [sample_path(SPACE, 3, step, "anchors") for step in range(40)]
    assert first == [sample_path(SPACE, 3, step, "anchors") for step in range(40)]
    assert first != [sample_path(SPACE, 4, step, "anchors") for step in range(40)]
    anchors = anchor_points(SPACE)

    def near(paths):  # cell descriptors within 3 of an anchor's (a lower bound on edits)
        return sum(min(lower_bound(SPACE, p, a) for a in anchors) <= 3 for p in paths)

    assert near(first) >= 12  # about half the steps: an anchor and up to 4 edits
    assert near(sample_path(SPACE, 3, step) for step in range(40)) <= 2  # uniform: far
    assert len({len(SPACE.decode(p)) for p in first}) >= 4  # several cell counts trained
    assert len(anchor_points(AnchoredSpace(max_inputs=2))) == 3  # no bifpn there
    with pytest.raises(SearchError, match="needs the anchored space"):
        from nasfpn_cli.search.space import SearchSpace

        sample_path(SearchSpace(), 0, 0, "anchors")


def test_candidates_outside_the_space_are_refused_by_name():
    net = supernet(space=AnchoredSpace(max_inputs=2))
    with pytest.raises(SearchError, match="has 3 inputs; the space allows at most 2"):
        net.use(load_genotype("bifpn"))
    with pytest.raises(SearchError, match="decision 1"):
        net.use((7, 9))


def test_the_fidelity_benchmark_pairs_two_scores_on_the_architectures_both_have():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import supernet_fidelity as bench

    truth = {f"a{i}": np.array([i, i + 0.5]) for i in range(8)}
    rows = {name: {"supernet loss": float(i)} for i, name in enumerate(sorted(truth))}
    other = {name: {"recorded proxy": float(-i if i < 4 else i)}
             for i, name in enumerate(sorted(truth)) if name != "a7"}
    [line] = bench.paired(rows, truth, other, [("supernet loss", "recorded proxy")], "ref")
    assert line["n"] == 7 and line["kendall_tau"].startswith("1.00")
    other_tau = float(line["other_kendall_tau"].split()[0])
    assert float(line["difference"].split()[0]) == pytest.approx(1 - other_tau, abs=0.011)
