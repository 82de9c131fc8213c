"""Relative sharpness: the prediction's Laplacian variance over the reference's."""

from __future__ import annotations

import evaluate
import numpy as np

from ._common import ImagePairInputs, image_pairs

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, as PIL's "L" mode
FLAT = 1e-12  # a reference whose Laplacian variance is at most this has no detail to compare

_DESCRIPTION = """\
Relative sharpness of (prediction, reference) image pairs: per pair var(L(prediction)) /
var(L(reference)), where L is the 4-neighbour Laplacian [[0, 1, 0], [1, -4, 1], [0, 1, 0]] of
the greyscale image (BT.601 luma 0.299 R + 0.587 G + 0.114 B of [0, 1] values) over its valid
(unpadded) region; then the mean over pairs. 1.0 = as sharp as the reference, below 1 blurrier,
above 1 sharper or noisier. A reference (or its crop) without detail is an error.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: images (H, W, 3), float in [0, 1] or uint8: a batch array (N, H, W, 3) or a list.
    references: images of the same shapes as the predictions, one per prediction.
    crop (float, default 1.0): score the central crop keeping this fraction of each side
        (0.5 = the central half of the height and of the width); at least 3 pixels a side.
Returns:
    sharpness (float): mean ratio over pairs; 1.0 for identical images.
Examples:
    >>> metric = load_metric("sharpness")
    >>> metric.compute(predictions=blurred, references=images)
"""

_CITATION = """\
@inproceedings{pertuz2013focus,
  title={Analysis of focus measure operators for shape-from-focus},
  author={Pertuz, Said and Puig, Domenec and Garcia, Miguel Angel},
  booktitle={Pattern Recognition}, volume={46}, number={5}, pages={1415--1432}, year={2013}
}
"""


def laplacian_variance(image: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of an (H, W, 3) image's luma, valid region."""
    grey = image @ np.asarray(LUMA)
    laplacian = (
        grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * grey[1:-1, 1:-1]
    )
    return float(laplacian.var())


class Sharpness(ImagePairInputs, evaluate.Metric):
    DESCRIPTION, CITATION, INPUTS = _DESCRIPTION, _CITATION, _KWARGS_DESCRIPTION

    def _compute(self, predictions, references, crop=1.0):
        pairs = image_pairs(predictions, references, crop, min_side=3, metric="sharpness")
        ratios = []
        for i, (prediction, reference) in enumerate(pairs):
            reference_variance = laplacian_variance(reference)
            if reference_variance <= FLAT:
                raise ValueError(
                    f"sharpness: reference {i} has no detail (Laplacian variance "
                    f"{reference_variance:.3g}) at crop={crop:g}; the ratio is undefined"
                )
            ratios.append(laplacian_variance(prediction) / reference_variance)
        return {"sharpness": float(np.mean(ratios))}
