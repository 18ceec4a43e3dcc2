"""``save_best`` without ``rule`` on MMPose's metrics: mmengine infers rules only from substrings such as 'mAP'
and 'acc', so ``save_best='coco/AP'`` stopped a run before it began and ``save_best='auto'`` at its first
validation ("Cannot infer the rule"). The checkpoint hook mmpx trains with reads MMPose's metric names."""

from __future__ import annotations

import operator

import pytest

import mmpose_ext  # noqa: F401  (fixes and registries before mmpose is imported)

pytestmark = pytest.mark.stack


@pytest.mark.parametrize("key, better", [
    ("coco/AP", operator.gt), ("coco-wholebody/AP", operator.gt), ("humanart/AR", operator.gt),
    ("PCK", operator.gt), ("mpii/PCKh@0.1", operator.gt), ("AUC", operator.gt), ("EPE", operator.lt),
    ("NME", operator.lt), ("coco/bbox_mAP", operator.gt), ("loss", operator.lt),
])
def test_the_rule_of_a_pose_metric_is_known(key, better):
    from mmpose_ext.engine import AtomicCheckpointHook

    hook = AtomicCheckpointHook(interval=1, save_best=key)
    assert hook.is_better_than[key](2, 1) == better(2, 1)


def test_auto_takes_the_first_metric_and_knows_its_rule():
    from mmpose_ext.engine import AtomicCheckpointHook

    hook = AtomicCheckpointHook(interval=1, save_best="auto")
    hook._init_rule(hook.rules, ["coco-wholebody/AP"])  # what mmengine does at the first validation
    assert hook.is_better_than["coco-wholebody/AP"](0.5, 0.4)


def test_a_given_rule_wins_and_an_unknown_key_is_still_refused():
    from mmpose_ext.engine import AtomicCheckpointHook

    assert AtomicCheckpointHook(interval=1, save_best="coco/AP", rule="less").is_better_than["coco/AP"](1, 2)
    with pytest.raises(ValueError, match="Cannot infer the rule for key my/score"):
        AtomicCheckpointHook(interval=1, save_best="my/score")
