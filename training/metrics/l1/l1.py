"""Mean absolute error of image pairs, in [0, 1] units."""

from __future__ import annotations

import evaluate
import numpy as np

from ._common import ImagePairInputs, image_pairs

_DESCRIPTION = """\
Mean L1 error of (prediction, reference) image pairs: per pair the mean absolute difference over
all pixels and RGB channels of images in [0, 1] (uint8 divided by 255), then the mean over pairs.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: images (H, W, 3), float in [0, 1] or uint8: a batch array (N, H, W, 3) or a list.
    references: images of the same shapes as the predictions, one per prediction.
    crop (float, default 1.0): score the central crop keeping this fraction of each side
        (0.5 = the central half of the height and of the width).
Returns:
    l1 (float): mean absolute error in [0, 1]; 0.0 for identical images, 0.1 for an offset of 0.1.
Examples:
    >>> metric = load_metric("l1")
    >>> metric.compute(predictions=images, references=images)
    {'l1': 0.0}
"""

_CITATION = ""


class L1(ImagePairInputs, evaluate.Metric):
    DESCRIPTION, CITATION, INPUTS = _DESCRIPTION, _CITATION, _KWARGS_DESCRIPTION

    def _compute(self, predictions, references, crop=1.0):
        pairs = image_pairs(predictions, references, crop, min_side=1, metric="l1")
        values = [float(np.mean(np.abs(p - r))) for p, r in pairs]
        return {"l1": float(np.mean(values))}
