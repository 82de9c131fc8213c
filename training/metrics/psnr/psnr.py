"""Peak signal-to-noise ratio of image pairs in dB (data range 1)."""

from __future__ import annotations

import math

import evaluate
import numpy as np

from ._common import ImagePairInputs, image_pairs

DEFAULT_MAX_DB = 100.0

_DESCRIPTION = """\
Mean PSNR of (prediction, reference) image pairs: per pair 10 log10(1 / MSE) in dB, the MSE over
all pixels and RGB channels of images in [0, 1] (uint8 divided by 255), then the mean over pairs
(not the PSNR of the mean MSE). A pair with MSE 0 (identical images) would score infinity: each
pair's PSNR is capped at max_db (100 dB by default; max_db=None keeps infinity).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: images (H, W, 3), float in [0, 1] or uint8: a batch array (N, H, W, 3) or a list.
    references: images of the same shapes as the predictions, one per prediction.
    crop (float, default 1.0): score the central crop keeping this fraction of each side
        (0.5 = the central half of the height and of the width).
    max_db (float or None, default 100.0): cap on each pair's PSNR; None for no cap (inf).
Returns:
    psnr (float): mean PSNR in dB over pairs; 20.0 for a constant offset of 0.1.
Examples:
    >>> metric = load_metric("psnr")
    >>> metric.compute(predictions=images, references=np.clip(images + 0.1, 0, 1))
"""

_CITATION = """\
@misc{psnr,
  title={Peak signal-to-noise ratio},
  howpublished={https://en.wikipedia.org/wiki/Peak_signal-to-noise_ratio}
}
"""


def check_max_db(max_db):
    if max_db is None:
        return math.inf
    if isinstance(max_db, bool) or not isinstance(max_db, (int, float, np.integer, np.floating)):
        raise ValueError(f"max_db: expected a positive number or None, got {max_db!r}")
    if not max_db > 0:
        raise ValueError(f"max_db: expected a positive number or None, got {max_db:g}")
    return float(max_db)


class PSNR(ImagePairInputs, evaluate.Metric):
    DESCRIPTION, CITATION, INPUTS = _DESCRIPTION, _CITATION, _KWARGS_DESCRIPTION
    REFERENCE_URLS = ("https://en.wikipedia.org/wiki/Peak_signal-to-noise_ratio",)

    def _compute(self, predictions, references, crop=1.0, max_db=DEFAULT_MAX_DB):
        cap = check_max_db(max_db)
        pairs = image_pairs(predictions, references, crop, min_side=1, metric="psnr")
        values = []
        for prediction, reference in pairs:
            mse = float(np.mean((prediction - reference) ** 2))
            values.append(min(cap, -10.0 * math.log10(mse)) if mse > 0 else cap)
        return {"psnr": float(np.mean(values))}
