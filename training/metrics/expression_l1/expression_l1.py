"""L1 over the pixels where a frontal target's expression changed it from the source."""

from __future__ import annotations

import evaluate
import numpy as np

from animeceleb.regions import changed_region

from ._common import (
    ImagePairInputs,
    check_image_pairs,
    check_images,
    image_pairs,
    unit_float,
)

_DESCRIPTION = """\
L1 error of (prediction, reference) image pairs on the expression only: per pair the mean absolute
difference (images in [0, 1], RGB channels averaged) over the pixels where the reference differs
from its source image (mean absolute RGB difference above 0.05, dilated by 5 pixels: the closed
eye, the open mouth), then the mean over the pairs that have such pixels. Meant for frontal pairs,
whose head did not move, so the region is exactly the expression; whole-image scores dilute a mouth
into a few hundred of 65,536 pixels. Copying the source scores the size of the change.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: images (H, W, 3), float in [0, 1] or uint8: a batch array (N, H, W, 3) or a list.
    references: images of the same shapes as the predictions, one per prediction.
    sources: the source image of each pair (same shapes), whose expression the reference changes.
Returns:
    expression_l1 (float or None): mean over the pairs with a changed region; None when no pair
        has one.
    expression_pairs (int): how many pairs had a changed region.
Examples:
    >>> metric = load_metric("expression_l1")
    >>> metric.compute(predictions=outputs, references=targets, sources=sources)
"""

_CITATION = ""


def _signed(image: np.ndarray) -> np.ndarray:
    """An (H, W, 3) image in [0, 1] -> [-1, 1], the range the training losses take images in."""
    return image * 2 - 1


class ExpressionL1(ImagePairInputs, evaluate.Metric):
    DESCRIPTION, CITATION, INPUTS = _DESCRIPTION, _CITATION, _KWARGS_DESCRIPTION

    def _compute(self, predictions, references, sources=None):
        if sources is None:
            raise ValueError("expression_l1: sources (the source image of each pair) are needed")
        pairs = image_pairs(predictions, references, 1.0, min_side=1, metric="expression_l1")
        sources = [unit_float(image) for image in check_images(sources, "sources")]
        check_image_pairs(sources, [reference for _, reference in pairs], ("source", "reference"))
        values = []
        for (prediction, reference), source in zip(pairs, sources, strict=True):
            prediction, reference, source = map(_signed, (prediction, reference, source))
            changed = changed_region(source, reference)
            if changed.any():
                error = np.abs(prediction - reference).mean(axis=-1)[changed]
                values.append(float(error.sum() / changed.sum()) / 2)  # in [0, 1] units
        return {
            "expression_l1": float(np.mean(values)) if values else None,
            "expression_pairs": len(values),
        }
