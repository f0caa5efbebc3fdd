"""Merging ops, resampling, DropBlock and the layer helpers, checked against direct formulas."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nasfpn_cli.errors import ModelError
from nasfpn_cli.genotype import OPS
from nasfpn_cli.modeling.dropblock import DropBlock2d, set_dropblock_progress
from nasfpn_cli.modeling.spec import DropBlockSpec
from nasfpn_cli.modeling.layers import (FrozenBatchNorm2d, convert_sync_batchnorm, freeze_batchnorm,
                                       make_norm)
from nasfpn_cli.modeling.ops import (GlobalPoolAttention, SumMerge, WeightedSum, make_merge,
                                     make_resample)


def test_every_genotype_op_has_an_implementation():
    for name, spec in OPS.items():
        assert isinstance(make_merge(name, spec.min_inputs), torch.nn.Module), name


def test_sum_adds_every_input():
    a, b, c = (torch.full((1, 2, 2, 2), v) for v in (1.0, 2.0, 4.0))
    assert torch.equal(SumMerge()([a, b, c]), torch.full((1, 2, 2, 2), 7.0))


def test_gp_gates_the_fine_input_with_the_coarse_global_max():
    coarse = torch.tensor([[[[0.0, 2.0], [-1.0, 1.0]]]])  # global max 2
    fine = torch.ones(1, 1, 2, 2)
    expected = coarse + fine / (1.0 + math.exp(-2.0))
    torch.testing.assert_close(GlobalPoolAttention()([coarse, fine]), expected)


def test_wsum_is_fast_normalised_fusion_with_parameter_weights():
    merge = WeightedSum(3)
    assert isinstance(merge.weight, nn.Parameter) and merge.weight.tolist() == [1.0, 1.0, 1.0]
    with torch.no_grad():
        merge.weight.copy_(torch.tensor([3.0, 1.0, -5.0]))  # the negative weight is cut by the ReLU
    a, b, c = torch.ones(1, 1, 1, 1), torch.full((1, 1, 1, 1), 2.0), torch.full((1, 1, 1, 1), 100.0)
    expected = (3.0 * 1.0 + 1.0 * 2.0) / (4.0 + 1e-4)
    assert merge([a, b, c]).item() == pytest.approx(expected, rel=1e-6)
    merge([a, b, c]).sum().backward()
    assert merge.weight.grad is not None and merge.weight.grad[2] == 0


def test_merge_arity_is_checked():
    with pytest.raises(ModelError, match="exactly 2 inputs"):
        make_merge("gp", 3)
    with pytest.raises(ModelError, match="no PyTorch implementation"):
        make_merge("concat", 2)


def test_resampling_is_nearest_upsampling_or_max_pooling():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert isinstance(make_resample(4, 4), nn.Identity)
    up = make_resample(5, 3)(x)  # two levels finer: x4 nearest
    assert up.shape == (1, 1, 16, 16)
    assert torch.equal(up, x.repeat_interleave(4, dim=2).repeat_interleave(4, dim=3))
    down = make_resample(3, 4)(x)
    assert torch.equal(down, torch.tensor([[[[5.0, 7.0], [13.0, 15.0]]]]))
    assert torch.equal(make_resample(3, 5)(x), torch.tensor([[[[15.0]]]]))


def test_dropblock_is_identity_in_eval_and_follows_its_schedule():
    torch.manual_seed(0)
    block = DropBlock2d(block_size=3, keep_prob=0.8)
    x = torch.ones(4, 8, 32, 32)
    assert block.keep_prob == 1.0  # the linear schedule starts with nothing dropped
    assert torch.equal(block.train()(x), x)
    model = nn.Sequential(block)
    assert set_dropblock_progress(model, 0.5) == 1
    assert block.keep_prob == pytest.approx(0.9)
    set_dropblock_progress(model, 1.0)
    out = block(x)
    dropped = (out == 0).float().mean().item()
    assert 0.12 < dropped < 0.28  # about 1 - keep_prob of the positions
    assert out.sum().item() == pytest.approx(x.sum().item(), rel=1e-4)  # rescaled to keep the mean
    assert torch.equal(block.eval()(x), x)
    assert DropBlock2d(3, 0.7, schedule="constant").keep_prob == 0.7


@pytest.mark.parametrize("fields, message", [
    (dict(block_size=4), "odd"), (dict(keep_prob=0.0), r"\(0, 1\]"), (dict(schedule="cosine"), "schedule")])
def test_dropblock_config_is_validated(fields, message):
    with pytest.raises(ModelError, match=message):
        DropBlockSpec(**fields)


def test_norm_registry_and_frozen_batchnorm():
    assert isinstance(make_norm("gn", 64), nn.GroupNorm)
    assert isinstance(make_norm("syncbn", 8), nn.SyncBatchNorm)
    with pytest.raises(ModelError, match="unknown norm 'layer'"):
        make_norm("layer", 8)
    assert [make_norm("gn", c).num_groups for c in (256, 64, 32, 48, 24, 4, 3)] == [32, 16, 8, 4, 2, 1, 1]
    bn = nn.BatchNorm2d(4)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2.0), bn.bias.uniform_(-1, 1)
        bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 4, 5, 5)
    frozen = freeze_batchnorm(nn.Sequential(bn))[0]
    assert isinstance(frozen, FrozenBatchNorm2d) and not list(frozen.parameters())
    torch.testing.assert_close(frozen(x), bn.eval()(x))
    reloaded = FrozenBatchNorm2d(4)
    reloaded.load_state_dict(bn.state_dict())  # num_batches_tracked is accepted and dropped
    torch.testing.assert_close(reloaded(x), bn(x))


def test_syncbn_falls_back_to_batch_norm_outside_a_process_group():
    model = nn.Sequential(nn.Conv2d(3, 8, 1), nn.BatchNorm2d(8), nn.Sequential(nn.BatchNorm2d(8)))
    converted = convert_sync_batchnorm(model)
    assert sum(isinstance(m, nn.SyncBatchNorm) for m in converted.modules()) == 2
    out = converted.train()(torch.randn(4, 3, 5, 5))  # no torch.distributed group: plain statistics
    assert out.shape == (4, 8, 5, 5) and abs(out.mean().item()) < 1e-5
