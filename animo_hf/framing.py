"""Frame an uploaded character image like the training data: a square crop around the character,
with a transparent background.

The training renders show the head and neck centred in a square on a transparent background.
Users upload RGBA images (the alpha says where the character is) or RGB images on a plain
background (the colour of the border is taken as the background and made transparent).
"""

from __future__ import annotations

import numpy as np
import PIL.Image

from .image_utils import ImageInput, image_to_array

ALPHA_THRESHOLD = 0.05  # alpha above this is the character
BACKGROUND_TOLERANCE = 0.08  # RGB: a pixel this far (max over channels) from the border colour
MIN_COVERAGE = 0.001  # fewer character pixels than this share of the image: nothing was found


def character_alpha(array: np.ndarray) -> np.ndarray:
    """The (H, W) alpha of the character in an (H, W, 3|4) float image in [0, 1]: its own alpha
    channel, or (RGB) how far each pixel is from the median border colour, ramped to 1 at
    ``BACKGROUND_TOLERANCE`` (soft edges stay soft)."""
    if array.shape[2] == 4:
        return array[..., 3]
    border = np.concatenate([array[0], array[-1], array[:, 0], array[:, -1]])
    background = np.median(border, axis=0)
    distance = np.abs(array - background).max(axis=2)
    return np.clip(distance / BACKGROUND_TOLERANCE, 0.0, 1.0)


def frame_character(image: ImageInput, *, margin: float = 0.06) -> PIL.Image.Image:
    """A square RGBA crop centred on the character, like the training renders.

    Args:
        image: PIL image, numpy array or tensor (see :func:`animo_hf.image_utils.image_to_array`):
            RGBA, or RGB on a plain background.
        margin: the space left around the character's bounding box, as a share of its longer
            side, on each side.

    Returns:
        An RGBA PIL image, square, the character's bounding box centred with ``margin`` around
        it; what the crop takes from outside the image is transparent.

    Raises:
        ValueError: one line, when ``margin`` is out of [0, 1] or no character is found (the
            image is fully transparent, or one plain colour).
    """
    if not 0.0 <= margin <= 1.0:
        raise ValueError(f"margin = {margin!r}: expected a number in [0, 1]")
    array = image_to_array(image)
    alpha = character_alpha(array)
    mask = alpha > ALPHA_THRESHOLD
    if mask.mean() < MIN_COVERAGE:
        raise ValueError(
            "image: no character found (it is fully transparent, or one plain colour); "
            "expected an RGBA image or a character on a plain background"
        )
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, columns[0], columns[-1] + 1
    side = int(np.ceil(max(bottom - top, right - left) * (1 + 2 * margin)))
    centre_y, centre_x = (top + bottom) / 2, (left + right) / 2
    y0, x0 = int(round(centre_y - side / 2)), int(round(centre_x - side / 2))

    rgba = np.concatenate([array[..., :3], alpha[..., None]], axis=2)
    canvas = np.zeros((side, side, 4), dtype=np.float32)
    src_y, src_x = (
        slice(max(y0, 0), min(y0 + side, len(rgba))),
        slice(max(x0, 0), min(x0 + side, rgba.shape[1])),
    )
    dst_y = slice(src_y.start - y0, src_y.stop - y0)
    dst_x = slice(src_x.start - x0, src_x.stop - x0)
    canvas[dst_y, dst_x] = rgba[src_y, src_x]
    return PIL.Image.fromarray(np.round(canvas * 255).astype(np.uint8), "RGBA")
