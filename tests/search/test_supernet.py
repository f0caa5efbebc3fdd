"""The one-shot supernet's network: a path runs exactly as the stand-alone neck of its genotype
with the same weights; what lies outside the space is refused by name."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nasfpn_cli.errors import SearchError
from nasfpn_cli.genotype import load_genotype
from nasfpn_cli.modeling.neck import build_neck
from nasfpn_cli.search.space import SearchSpace
from nasfpn_cli.search.supernet import NORM_SCOPES
from nasfpn_cli.search.supernet.model import SupernetNeck, sample_path
from supernet_maps import IN_CHANNELS, backbone_maps

SPACE = SearchSpace()


def supernet(stacks: int = 2, norm_scope: str = "level", space: SearchSpace = SPACE):
    torch.manual_seed(0)
    return SupernetNeck(space, IN_CHANNELS, 8, stacks, norm_scope=norm_scope)


def randomise_norms(module: torch.nn.Module) -> None:
    """Non-trivial affine parameters and running statistics, so a wrong norm shows."""
    generator = torch.Generator().manual_seed(1)
    for norm in module.modules():
        if isinstance(norm, torch.nn.BatchNorm2d):
            for tensor in (norm.weight, norm.bias, norm.running_mean):
                tensor.data.copy_(torch.randn(tensor.shape, generator=generator))
            norm.running_var.data.copy_(torch.rand(norm.running_var.shape,
                                                   generator=generator) + 0.5)


def copy_into_supernet(net: SupernetNeck, neck, genotype) -> None:
    """The stand-alone neck's weights into the supernet's modules the genotype's path uses."""
    position = {cell.name: index for index, cell in enumerate(genotype.cells)}
    scope = NORM_SCOPES[net.norm_scope]
    net.inputs.load_state_dict(neck.inputs.state_dict())
    for stack_index, stack in enumerate(neck.stacks):
        for cell in stack.cells:
            index = position[cell.name]
            net.convs[stack_index][index].load_state_dict(cell.conv.state_dict())
            slot = scope.slot(net.space, cell.level)
            net.norms[stack_index][index][slot].load_state_dict(cell.norm.state_dict())


def test_a_path_gives_every_level_at_its_size():
    net = supernet()
    net.use(sample_path(SPACE, seed=0, step=3))
    outputs = net(backbone_maps())
    assert [tuple(o.shape) for o in outputs] == [(2, 8, 128 >> level, 128 >> level)
                                                 for level in (3, 4, 5, 6, 7)]
    assert len(net.forward_stacks(backbone_maps())) == 2


@pytest.mark.parametrize("norm_scope", sorted(NORM_SCOPES))
@pytest.mark.parametrize("training", [False, True])
def test_a_path_equals_the_stand_alone_neck_with_the_same_weights(norm_scope, training):
    rng = np.random.default_rng(4)
    genotypes = [load_genotype("nasfpn")] + [SPACE.to_genotype(SPACE.sample(rng))
                                             for _ in range(3)]
    for genotype in genotypes:
        net = supernet(norm_scope=norm_scope)
        neck = build_neck(genotype, IN_CHANNELS, 8, 2)
        randomise_norms(neck)
        copy_into_supernet(net, neck, genotype)
        net.use(genotype)
        net.train(training)
        neck.train(training)
        expected = neck(backbone_maps())
        got = net(backbone_maps())
        for a, b in zip(expected, got):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_paths_share_the_weights_of_a_cell_position():
    net = supernet(stacks=1)
    first = net.compile(sample_path(SPACE, 0, 0))
    second = net.compile(sample_path(SPACE, 0, 1))
    own = {id(p) for p in net.parameters()}
    for path in (first, second):
        assert {id(p) for p in path.parameters()} <= own  # nothing new is built per path
    assert first.stacks[0].cells[0].conv is net.convs[0][
        [c.name for c in first.genotype.cells].index(first.stacks[0].cells[0].name)]


def test_norm_scopes_hold_a_norm_per_level_or_per_cell():
    per_level, per_cell = supernet(norm_scope="level"), supernet(norm_scope="cell")
    assert len(per_level.norms[0][0]) == len(SPACE.levels) and len(per_cell.norms[0][0]) == 1
    with pytest.raises(SearchError, match="norm scope 'block'"):
        supernet(norm_scope="block")


def test_candidates_outside_the_space_are_refused_by_name():
    net = supernet()
    with pytest.raises(SearchError, match="residual"):
        net.use(load_genotype("fpn"))
    with pytest.raises(SearchError, match="expected 28 decisions"):
        net.use((0, 1, 0, 0))
    with pytest.raises(SearchError, match=r"decision 1 \(cell n1, second\)"):
        net.use((0, 0, 0, 0) + SPACE.sample(np.random.default_rng(0))[4:])
    with pytest.raises(SearchError, match="choose it with use"):
        supernet()(backbone_maps())


def test_a_space_with_weighted_ops_is_refused():
    with pytest.raises(SearchError, match="op 'wsum' has weights"):
        supernet(space=SearchSpace(ops=("sum", "wsum")))


def test_recalibration_re_estimates_the_path_norms_from_the_batches_alone():
    from nasfpn_cli.engine.config import TrainConfig
    from nasfpn_cli.search.supernet.model import build_supernet
    from nasfpn_cli.search.supernet.scoring import path_norms, recalibrate_norms

    config = TrainConfig.from_recipe("proxy", channels=8, stack=1, image_size=64)
    detector = build_supernet(config, SPACE, 3)
    net = detector.network.neck
    net.use(sample_path(SPACE, 0, 0))
    randomise_norms(detector)
    norms = path_norms(detector)
    used = {id(n) for n in norms}
    untouched = [n for n in net.modules() if isinstance(n, torch.nn.BatchNorm2d)
                 and id(n) not in used and n not in net.inputs.modules()]
    before = [n.running_mean.clone() for n in untouched]
    seen: dict[int, list[torch.Tensor]] = {}
    for norm in norms:
        norm.register_forward_hook(lambda m, args, out: seen.setdefault(id(m), []).append(
            args[0].detach()))
    batches = [torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(i))
               for i in range(2)]
    recalibrate_norms(detector, batches)
    assert len(norms) == 7 and not detector.training
    for norm in norms:  # the plain average of the per-batch means (equal batch sizes)
        means = torch.stack([x.mean(dim=(0, 2, 3)) for x in seen[id(norm)]]).mean(0)
        torch.testing.assert_close(norm.running_mean, means, rtol=1e-4, atol=1e-5)
        assert norm.momentum == 0.1
    for norm, mean in zip(untouched, before):
        assert torch.equal(norm.running_mean, mean)
