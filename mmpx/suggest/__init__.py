"""``mmpx suggest``: which unlabelled images (or video frames) to label next, with pre-labels to correct.

:mod:`~mmpx.suggest.score` measures how unsure the model is about each candidate (its prediction against the
prediction on the mirrored image, and its keypoint scores) and describes it for diversity; :mod:`~mmpx.suggest.
select` picks the ones to label; :mod:`~mmpx.suggest.output` writes them with labelme pre-labels.
"""
