"""Image regions that the evaluation metrics score and the training losses weigh, defined once so
the two cannot drift apart:

- the **face crop**: the central ``FACE_CROP`` of each side of a framed AnimeCeleb image
  (:func:`crop_box`, :func:`central_crop`);
- the **changed region**: where one image does not explain another (an eye closing, a mouth
  opening), the pixels whose mean absolute RGB difference is above ``MASK_MATCH``, dilated by
  ``CHANGED_DILATION`` (:func:`changed_region`).

Images here are numpy arrays, channels last. The losses apply the same constants to torch tensors
(N, C, H, W) in their own code. This module imports only numpy.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

FACE_CROP = 0.5  # the central half of each side: the face of a framed AnimeCeleb image
# A pixel "matches" when its mean absolute RGB difference is below this, on images in [-1, 1]
# (the networks' and losses' range; 0.05 on images in [0, 1]).
MASK_MATCH = 0.1
CHANGED_DILATION = 5  # pixels around a mismatch that count as changed too (odd: a square window)


def crop_box(height: int, width: int, crop: float) -> tuple[slice, slice]:
    """Rows and columns of the central crop: ``side * crop`` pixels (rounded half up, at least 1)
    per side, starting at ``(side - kept) // 2``. ``crop=0.5`` on 64 x 64 keeps rows and columns
    16..47."""

    def one(side: int) -> slice:
        kept = max(1, min(side, int(side * crop + 0.5)))
        start = (side - kept) // 2
        return slice(start, start + kept)

    return one(height), one(width)


def central_crop(image: np.ndarray, crop: float) -> np.ndarray:
    """The central crop (:func:`crop_box`) of an (H, W, ...) array."""
    rows, cols = crop_box(image.shape[0], image.shape[1], crop)
    return image[rows, cols]


def changed_region(reference: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Where ``reference`` does not explain ``target``, both (..., H, W, C) in [-1, 1]: True where
    their mean absolute difference over the channels is above ``MASK_MATCH``, dilated by a
    ``CHANGED_DILATION`` square (a pixel near a mismatch counts as changed); bool (..., H, W)."""
    mismatch = np.abs(np.asarray(reference) - np.asarray(target)).mean(axis=-1) > MASK_MATCH
    return dilate(mismatch, CHANGED_DILATION)


def dilate(mask: np.ndarray, size: int) -> np.ndarray:
    """Binary dilation of a bool (..., H, W) mask by a ``size`` x ``size`` square centred on each
    pixel (``size`` odd; outside the image counts as False)."""
    half = size // 2
    for axis in (-2, -1):
        pad = [(0, 0)] * mask.ndim
        pad[axis] = (half, half)
        windows = sliding_window_view(np.pad(mask, pad), size, axis=axis)
        mask = windows.any(axis=-1)
    return mask
