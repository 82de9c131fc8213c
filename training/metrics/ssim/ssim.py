"""SSIM of image pairs, computed with ``pytorch_msssim.ssim`` exactly as the training loss does."""

from __future__ import annotations

from collections import defaultdict

import evaluate
import numpy as np
import torch
from pytorch_msssim import ssim

from ._common import ImagePairInputs, image_pairs

WIN_SIZE = 11
WIN_SIGMA = 1.5
BATCH = 32

_DESCRIPTION = """\
Mean structural similarity (SSIM) of (prediction, reference) image pairs: Gaussian window 11,
sigma 1.5, K = (0.01, 0.03), data range 1, computed per RGB channel on the valid (unpadded)
region with ``pytorch_msssim.ssim``, averaged over channels and pixels per image, then over pairs.
This is the SSIM of the training loss ``training.animo.losses.ssim_loss`` (loss = 1 - SSIM).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: images (H, W, 3), float in [0, 1] or uint8: a batch array (N, H, W, 3) or a list.
    references: images of the same shapes as the predictions, one per prediction.
    crop (float, default 1.0): score the central crop keeping this fraction of each side
        (0.5 = the central half of the height and of the width); at least 11 pixels a side.
Returns:
    ssim (float): mean SSIM over pairs, 1.0 for identical images.
Examples:
    >>> metric = load_metric("ssim")
    >>> metric.compute(predictions=images, references=images)
    {'ssim': 1.0}
"""

_CITATION = """\
@article{wang2004ssim,
  title={Image quality assessment: from error visibility to structural similarity},
  author={Wang, Zhou and Bovik, Alan C. and Sheikh, Hamid R. and Simoncelli, Eero P.},
  journal={IEEE Transactions on Image Processing},
  volume={13}, number={4}, pages={600--612}, year={2004}
}
"""


class SSIM(ImagePairInputs, evaluate.Metric):
    DESCRIPTION, CITATION, INPUTS = _DESCRIPTION, _CITATION, _KWARGS_DESCRIPTION
    CODEBASE_URLS = ("https://github.com/VainF/pytorch-msssim",)
    REFERENCE_URLS = ("https://en.wikipedia.org/wiki/Structural_similarity",)

    def _compute(self, predictions, references, crop=1.0):
        pairs = image_pairs(predictions, references, crop, min_side=WIN_SIZE, metric="ssim")
        scores = np.empty(len(pairs), dtype=np.float64)
        by_shape = defaultdict(list)
        for i, (prediction, _) in enumerate(pairs):
            by_shape[prediction.shape].append(i)
        for indices in by_shape.values():
            for start in range(0, len(indices), BATCH):
                chunk = indices[start : start + BATCH]
                x, y = (
                    torch.from_numpy(np.stack([pairs[i][k] for i in chunk]))
                    .permute(0, 3, 1, 2)
                    .float()
                    for k in (0, 1)
                )
                with torch.no_grad():
                    values = ssim(
                        x,
                        y,
                        data_range=1.0,
                        size_average=False,
                        win_size=WIN_SIZE,
                        win_sigma=WIN_SIGMA,
                    )
                scores[chunk] = values.double().numpy()
        return {"ssim": float(scores.mean())}
