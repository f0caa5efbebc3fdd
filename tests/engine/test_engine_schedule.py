"""Learning-rate schedules: exact multipliers, and the LambdaLR stepping through them."""
from __future__ import annotations

import math

import pytest
import torch

from nasfpn_cli.engine.schedule import LrSchedule, build_scheduler


def test_cosine_with_linear_warmup():
    schedule = LrSchedule("cosine", total_steps=100, warmup=10, warmup_factor=0.001)
    assert schedule.factor(0) == pytest.approx(0.001)
    # half-way through warmup: cosine(5/100) times the interpolated warmup factor
    assert schedule.factor(5) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.05)) * 0.5005)
    assert schedule.factor(10) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.1)))
    assert schedule.factor(50) == pytest.approx(0.5)
    assert schedule.factor(100) == pytest.approx(0.0)
    assert schedule.factor(150) == pytest.approx(0.0)


def test_step_schedule_decays_at_milestones():
    schedule = LrSchedule("step", total_steps=50, milestones=(30, 40), gamma=0.1)
    assert [schedule.factor(s) for s in (0, 29, 30, 39, 40, 49)] == \
        pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])


def test_scheduler_state_round_trip_lands_on_the_same_lr():
    def make():
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.08)
        return optimizer, build_scheduler(optimizer, LrSchedule("step", 50, warmup=5,
                                                                milestones=(30, 40)))

    optimizer, scheduler = make()
    for _ in range(33):
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.008)
    state = scheduler.state_dict()
    optimizer2, scheduler2 = make()
    scheduler2.load_state_dict(state)
    optimizer2.step()
    scheduler2.step()
    optimizer.step()
    scheduler.step()
    assert optimizer2.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]
    assert scheduler2.last_epoch == 34
