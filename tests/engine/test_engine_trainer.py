"""The training loop on a toy model: hook order, resume equals uninterrupted, non-finite loss
stops before touching the weights, bf16 autocast on CPU."""
from __future__ import annotations

import copy

import pytest
import torch
from engine_helpers import ToyDetector, toy_batches

from nasfpn_cli.engine.schedule import LrSchedule, build_scheduler
from nasfpn_cli.engine.trainer import Hook, NonFiniteLossError, Trainer


def make_trainer(model=None, *, epochs=3, hooks=(), amp=False, lr=0.05):
    model = model or ToyDetector()
    loader = toy_batches()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    scheduler = build_scheduler(optimizer, LrSchedule("cosine", total_steps=epochs * len(loader),
                                                      warmup=3))
    return Trainer(model, optimizer, scheduler, loader, epochs=epochs, device=torch.device("cpu"),
                   amp=amp, grad_clip=5.0, hooks=hooks)


class Recorder(Hook):
    def __init__(self):
        self.events = []

    def before_train(self, trainer):
        self.events.append(("before_train", trainer.epoch, trainer.step))

    def before_epoch(self, trainer):
        self.events.append(("before_epoch", trainer.epoch, trainer.step))

    def after_step(self, trainer):
        self.events.append(("after_step", trainer.epoch, trainer.step))

    def after_epoch(self, trainer):
        self.events.append(("after_epoch", trainer.epoch, trainer.step))

    def after_train(self, trainer):
        self.events.append(("after_train", trainer.epoch, trainer.step))


def test_hooks_see_epochs_and_steps_in_order():
    recorder = Recorder()
    make_trainer(epochs=2, hooks=[recorder]).train()
    steps = [("after_step", 0, s) for s in range(1, 5)] + [("after_epoch", 1, 4)]
    steps += [("before_epoch", 1, 4)] + [("after_step", 1, s) for s in range(5, 9)]
    assert recorder.events == [("before_train", 0, 0), ("before_epoch", 0, 0), *steps,
                               ("after_epoch", 2, 8), ("after_train", 2, 8)]


def test_training_lowers_the_loss():
    first, last = [], []

    class Track(Hook):
        def after_step(self, trainer):
            (first if trainer.step <= 4 else last).append(trainer.last_losses["loss"])

    make_trainer(epochs=6, hooks=[Track()]).train()
    assert sum(last[-4:]) < 0.5 * sum(first)


def test_resume_from_state_dict_equals_uninterrupted():
    straight = make_trainer(epochs=4)
    straight.train()

    class StopAfter(Hook):
        def after_epoch(self, trainer):
            if trainer.epoch == 2:
                raise KeyboardInterrupt

    interrupted = make_trainer(epochs=4, hooks=[StopAfter()])
    with pytest.raises(KeyboardInterrupt):
        interrupted.train()
    state = copy.deepcopy(interrupted.state_dict())
    resumed = make_trainer(epochs=4)
    resumed.load_state_dict(state)
    assert (resumed.epoch, resumed.step) == (2, 8)
    resumed.train()
    assert (resumed.epoch, resumed.step, resumed.lr) == (straight.epoch, straight.step, straight.lr)
    for a, b in zip(straight.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)


def test_non_finite_loss_stops_before_the_weights_change():
    model = ToyDetector(nan_at_call=3)
    snapshots = []

    class Snapshot(Hook):
        def after_step(self, trainer):
            snapshots.append({k: v.detach().clone() for k, v in model.named_parameters()})

    trainer = make_trainer(model, hooks=[Snapshot()])
    with pytest.raises(NonFiniteLossError) as caught:
        trainer.train()
    before = snapshots[-1]
    message = caught.value.render()
    assert "non-finite loss at step 3 (epoch 1)" in message and "box=nan" in message
    assert "hint: lower --lr" in message
    assert trainer.step == 2
    for name, value in model.named_parameters():  # (BN statistics move in any forward)
        assert torch.equal(value, before[name]), name


def test_bf16_autocast_on_cpu_trains():
    trainer = make_trainer(epochs=1, amp=True)
    trainer.train()
    assert trainer.step == 4 and torch.isfinite(torch.tensor(trainer.last_losses["loss"]))
    assert not trainer.scaler.is_enabled()
