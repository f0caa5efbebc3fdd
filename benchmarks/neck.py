"""Is the compiled neck as fast as the same architecture written by hand?

Times forward + backward of the NAS-FPN neck compiled from the genotype (``build_neck``) against
``StaticNasFpn`` below, the same layers wired explicitly cell by cell, for 7@256 at 640 px and 3@64
at 256 px (ResNet-50 channels, random C3..C5 features, batch 1). Both share the same weights (the
outputs are checked equal first), repeats are interleaved (the order alternating) so both see the
same machine load, and the fastest runs (the least disturbed by other work on a shared machine)
are compared; medians are printed too. Target: static / compiled >= 0.97.

    python benchmarks/neck.py [--repeats 3] [--threads 2]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nasfpn_cli.modeling.neck import Neck, build_neck  # noqa: E402

IN_CHANNELS = (512, 1024, 2048)
TARGET_RATIO = 0.97
MIN_SAMPLE_SECONDS = 0.5
CONFIGS = ((7, 256, 640), (3, 64, 256))  # (stack, channels, image size)


def conv_bn(in_channels: int, out_channels: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(out_channels))


def global_pool_attention(coarse: Tensor, fine: Tensor) -> Tensor:
    return coarse + fine * torch.sigmoid(torch.amax(coarse, dim=(2, 3), keepdim=True))


def up(x: Tensor, factor: int) -> Tensor:
    return F.interpolate(x, scale_factor=float(factor), mode="nearest")


def down(x: Tensor, factor: int) -> Tensor:
    return F.max_pool2d(x, factor, factor)


class StaticNasFpnStack(nn.Module):
    """One NAS-FPN pyramid written out: each cell's ReLU -> Conv3x3 -> BN after its merge."""

    def __init__(self, channels: int):
        super().__init__()
        self.n1, self.n2, self.n3, self.n4, self.n5, self.n6, self.n7 = (
            conv_bn(channels, channels, 3) for _ in range(7))

    def forward(self, p3: Tensor, p4: Tensor, p5: Tensor, p6: Tensor, p7: Tensor):
        n1 = self.n1(F.relu(global_pool_attention(up(p6, 4), p4)))
        n2 = self.n2(F.relu(n1 + p4))
        n3 = self.n3(F.relu(up(n2, 2) + p3))
        n4 = self.n4(F.relu(down(n3, 2) + n2))
        n5 = self.n5(F.relu(global_pool_attention(down(n4, 2), down(n3, 4)) + p5))
        n6 = self.n6(F.relu(global_pool_attention(down(n5, 4), down(n2, 8)) + p7))
        n7 = self.n7(F.relu(global_pool_attention(up(n6, 2), down(n5, 2))))
        return n3, n4, n5, n7, n6


class StaticNasFpn(nn.Module):
    """Laterals, P6/P7 by max pooling, then ``stack`` hand-wired NAS-FPN pyramids."""

    def __init__(self, channels: int, stack: int):
        super().__init__()
        self.l3, self.l4, self.l5 = (conv_bn(c, channels, 1) for c in IN_CHANNELS)
        self.stacks = nn.ModuleList(StaticNasFpnStack(channels) for _ in range(stack))

    def forward(self, c3: Tensor, c4: Tensor, c5: Tensor) -> list[Tensor]:
        p5 = self.l5(c5)
        p6 = down(p5, 2)
        features = (self.l3(c3), self.l4(c4), p5, p6, down(p6, 2))
        for stack in self.stacks:
            features = stack(*features)
        return list(features)

    def copy_from(self, neck: Neck) -> None:
        """Take the compiled neck's weights (same architecture, other module names)."""
        for mine, lateral in zip((self.l3, self.l4, self.l5), neck.inputs.laterals):
            mine.load_state_dict({k.replace("conv.", "0.").replace("norm.", "1."): v
                                  for k, v in lateral.state_dict().items()})
        for mine, stack in zip(self.stacks, neck.stacks):
            for cell in stack.cells:
                getattr(mine, cell.name)[0].load_state_dict(cell.conv.state_dict())
                getattr(mine, cell.name)[1].load_state_dict(cell.norm.state_dict())


def step_seconds(run, features: list[Tensor]) -> float:
    """One forward + backward."""
    start = time.perf_counter()
    outputs = run(features)
    sum(o.float().mean() for o in outputs).backward()
    return time.perf_counter() - start


def compare(stack: int, channels: int, size: int, repeats: int) -> float:
    torch.manual_seed(0)
    neck = build_neck("nasfpn", IN_CHANNELS, channels, stack)
    static = StaticNasFpn(channels, stack)
    static.copy_from(neck)
    features = [torch.randn(1, c, size // s, size // s) for c, s in zip(IN_CHANNELS, (8, 16, 32))]
    neck.eval(), static.eval()
    with torch.no_grad():
        for a, b in zip(neck(features), static(*features)):
            torch.testing.assert_close(a, b)
    neck.train(), static.train()
    runs = {"compiled": neck, "static": lambda f: static(*f)}
    warm = min(step_seconds(run, features) for run in runs.values())  # also warms allocators
    inner = max(1, round(MIN_SAMPLE_SECONDS / warm))  # short steps are timed in batches
    times: dict[str, list[float]] = {name: [] for name in runs}
    for repeat in range(repeats):
        order = list(runs) if repeat % 2 == 0 else list(reversed(runs))
        for name in order:
            elapsed = sum(step_seconds(runs[name], features) for _ in range(inner))
            times[name].append(elapsed / inner)
    compiled, hand = min(times["compiled"]), min(times["static"])
    ratio = hand / compiled
    medians = statistics.median(times["static"]) / statistics.median(times["compiled"])
    print(f"{stack}@{channels} at {size}px: compiled {compiled * 1e3:8.1f} ms, static "
          f"{hand * 1e3:8.1f} ms per forward+backward (best of {repeats} x {inner}); "
          f"static/compiled = {ratio:.3f} (medians: {medians:.3f})")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds of each (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ratios = [compare(stack, channels, size, args.repeats) for stack, channels, size in CONFIGS]
    worst = min(ratios)
    verdict = "ok" if worst >= TARGET_RATIO else "BELOW TARGET"
    print(f"worst ratio {worst:.3f} (target >= {TARGET_RATIO}): {verdict}")


if __name__ == "__main__":
    main()
