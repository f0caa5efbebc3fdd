"""The detector end to end on tiny models: losses, detections, deep supervision, config, learning."""
from __future__ import annotations

import json

import pytest
import torch

from nasfpn_cli.errors import ModelError
from nasfpn_cli.modeling.detector import Detector, build_detector

TINY = dict(num_classes=3, backbone="resnet10", channels=32, stack=1)


def targets_for_two_images() -> list[dict]:
    return [{"boxes": torch.tensor([[20.0, 30.0, 70.0, 100.0], [80.0, 10.0, 120.0, 50.0]]),
             "labels": torch.tensor([2, 0])},
            {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}]


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.randn(2, 3, 128, 128, generator=torch.Generator().manual_seed(0))


def test_training_losses_with_an_image_without_boxes(images):
    torch.manual_seed(0)
    detector = build_detector("fpn", **TINY)
    assert isinstance(detector, Detector) and detector.network.num_anchors == 9
    losses = detector.train()(images, targets_for_two_images())
    assert set(losses) == {"cls", "box", "loss"}
    assert torch.isfinite(losses["loss"]) and float(losses["box"].detach()) > 0
    torch.testing.assert_close(losses["loss"], losses["cls"] + losses["box"])
    losses["loss"].backward()
    assert detector.network.head.cls_score.weight.grad.abs().sum() > 0
    with pytest.raises(ModelError, match="needs targets"):
        detector(images)


def test_detections_per_image(images):
    torch.manual_seed(0)
    detector = build_detector("fpn", **TINY, score_threshold=0.0, detections_per_image=7).eval()
    with torch.no_grad():
        results = detector(images, image_sizes=[(128, 128), (100, 90)])
    assert len(results) == 2
    for result, (height, width) in zip(results, [(128, 128), (100, 90)]):
        assert set(result) == {"boxes", "scores", "labels"}
        assert result["boxes"].shape == (7, 4) and result["scores"].shape == (7,)
        assert result["labels"].dtype == torch.long and 0 <= int(result["labels"].min()) <= int(result["labels"].max()) < 3
        assert bool((result["scores"][:-1] >= result["scores"][1:]).all())
        assert float(result["boxes"][:, 2].max()) <= width and float(result["boxes"][:, 3].max()) <= height
    # an untrained head answers p = prior 0.01 everywhere: nothing passes the default 0.05
    with torch.no_grad():
        quiet = build_detector("fpn", **TINY).eval()(images)
    assert [len(r["scores"]) for r in quiet] == [0, 0]


def test_deep_supervision_sums_exits_and_exit_at_picks_a_stack(images):
    torch.manual_seed(0)
    detector = build_detector("nasfpn", **{**TINY, "stack": 2}, deep_supervision=True)
    losses = detector.train()(images, targets_for_two_images())
    assert set(losses) == {"cls", "box", "loss", "cls/exit1", "box/exit1", "cls/exit2", "box/exit2"}
    torch.testing.assert_close(losses["cls"].detach(), losses["cls/exit1"] + losses["cls/exit2"])
    torch.testing.assert_close(losses["box"].detach(), losses["box/exit1"] + losses["box/exit2"])
    detector.eval()
    assert detector.exit_at == 2
    with torch.no_grad():
        last = detector.network(images)
        detector.exit_at = 1
        first = detector.network(images)
        exits = detector.network.forward_exits(images)
    torch.testing.assert_close(first[0][0], exits[0][0][0])
    torch.testing.assert_close(last[0][0], exits[1][0][0])
    with pytest.raises(ModelError, match="exit_at"):
        detector.exit_at = 3


def test_config_is_json_and_rebuilds_the_same_detector(images):
    torch.manual_seed(0)
    detector = build_detector("fpn", **TINY, score_threshold=0.0, head_norm="bn",
                              dropblock={"block_size": 3, "keep_prob": 0.9})
    config = json.loads(json.dumps(detector.config))
    assert config["channels"] == 32 and config["stack"] == 1 and config["head_norm"] == "bn"
    assert config["focal_gamma"] == 1.5 and config["anchor_ratios"] == [0.5, 1.0, 2.0]
    rebuilt = build_detector("fpn", **config)
    rebuilt.load_state_dict(detector.state_dict())
    assert rebuilt.config == config
    with torch.no_grad():
        a, b = detector.eval()(images), rebuilt.eval()(images)
    torch.testing.assert_close(a[0]["boxes"], b[0]["boxes"])
    with pytest.raises(ModelError, match="num_anchors"):
        build_detector("fpn", **TINY, num_anchors=3)
    with pytest.raises(ModelError, match="not JSON-able"):
        build_detector("fpn", **TINY, prior_prob=torch.tensor(0.01))


def test_a_few_sgd_steps_make_the_loss_fall(images):
    torch.manual_seed(0)
    detector = build_detector("fpn", **TINY).train()
    optimizer = torch.optim.SGD(detector.parameters(), lr=0.005, momentum=0.9)
    history = []
    for _ in range(10):
        losses = detector(images, targets_for_two_images())
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()
        history.append(float(losses["loss"].detach()))
    print("loss per step:", [round(v, 3) for v in history])
    assert history[-1] < 0.6 * history[0]
    assert all(later < earlier * 1.05 for earlier, later in zip(history, history[1:]))
