"""Scoring a candidate with the supernet's weights: select its path, re-estimate the statistics
of the norms that depend on the path on a few training batches, then score it on the validation
split as the proxy does (:data:`~nasfpn_cli.search.rewards.proxy.SCORES`).

Why re-estimate: during training every norm after a shared conv saw the statistics of all the
paths through it, not of the candidate's own; Sciuto et al. (2020) and the SPOS paper found
supernet rankings near random without it. The norms re-estimated are the path's cell norms and
the head's (the backbone and laterals precede every choice, so their statistics hold).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .model import supernet_neck

BatchNorm = nn.modules.batchnorm._BatchNorm


def path_norms(detector) -> list[BatchNorm]:
    """The batch norms whose statistics depend on the selected path: its cells' and the
    head's."""
    path = supernet_neck(detector).path
    network = detector.network
    heads = network.heads if network.deep_supervision else [network.head]
    modules = [m for stack in path.stacks for cell in stack.cells for m in cell.norm.modules()]
    modules += [m for head in heads for m in head.modules()]
    return [m for m in modules if isinstance(m, BatchNorm)]


def recalibrate_norms(detector, batches: Sequence[torch.Tensor]) -> None:
    """Replace the running statistics of :func:`path_norms` by their plain average over
    ``batches`` (image tensors), computed with everything else in eval mode."""
    norms = path_norms(detector)
    if not norms or not batches:
        return
    momenta = [norm.momentum for norm in norms]
    detector.eval()
    try:
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # a cumulative average over the batches
            norm.train()
        with torch.no_grad():
            for images in batches:
                detector.network(images)
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
        detector.eval()
