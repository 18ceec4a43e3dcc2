"""Values as MMPose's results file holds them."""

from __future__ import annotations

import numpy as np


def as_json_value(value):
    """What mmengine's JSON dump makes of ``value`` (a 0-d array becomes its scalar), as MMPose's CocoMetric
    writes ``image_id``/``category_id``; kept in memory, the raw 0-d arrays would be unhashable ids."""
    return np.asarray(value).tolist()
