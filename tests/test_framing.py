"""Framing an uploaded character like the training data: a square crop centred on the character,
from RGBA or from RGB on a plain background, and one clear line when there is no character."""

import numpy as np
import PIL.Image
import pytest

from animo_hf.framing import frame_character


def disc(height: int, width: int, centre: tuple[int, int], radius: int) -> np.ndarray:
    yy, xx = np.mgrid[:height, :width]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def test_an_rgba_character_off_centre_is_cropped_square_around_it():
    array = np.zeros((100, 200, 4), np.uint8)
    array[disc(100, 200, (40, 150), 20)] = (200, 50, 50, 255)
    framed = frame_character(PIL.Image.fromarray(array, "RGBA"), margin=0.25)
    assert framed.mode == "RGBA" and framed.size[0] == framed.size[1] == 62  # 41 * 1.5
    alpha = np.asarray(framed)[..., 3] > 0
    rows, cols = np.flatnonzero(alpha.any(1)), np.flatnonzero(alpha.any(0))
    assert abs((rows[0] + rows[-1]) / 2 - 30.5) <= 1 and abs((cols[0] + cols[-1]) / 2 - 30.5) <= 1
    assert rows[0] >= 9 and cols[0] >= 9  # the margin is kept on every side


def test_an_rgb_character_on_a_plain_background_gets_a_transparent_background():
    array = np.full((80, 80, 3), (120, 130, 140), np.uint8)
    array[disc(80, 80, (40, 40), 15)] = (250, 220, 200)
    framed = np.asarray(frame_character(array, margin=0.0))
    assert framed.shape == (31, 31, 4)
    assert framed[15, 15, 3] == 255 and tuple(framed[15, 15, :3]) == (250, 220, 200)
    assert framed[0, 0, 3] == 0, "the background colour must become transparent"


def test_a_character_at_the_edge_is_padded_with_transparency():
    array = np.zeros((50, 50, 4), np.uint8)
    array[:30, :10] = 255  # touches the top and left borders
    framed = np.asarray(frame_character(array, margin=0.0))
    assert framed.shape == (30, 30, 4)
    assert framed[..., 3].sum() == 30 * 10 * 255  # nothing lost, the rest transparent


@pytest.mark.parametrize(
    "image",
    [np.zeros((40, 40, 4), np.uint8), np.full((40, 40, 3), 77, np.uint8)],
    ids=["transparent", "plain colour"],
)
def test_no_character_is_one_clear_line(image):
    with pytest.raises(ValueError, match=r"^image: no character found"):
        frame_character(image)
    with pytest.raises(ValueError, match=r"^margin = 2: expected a number in \[0, 1\]"):
        frame_character(image, margin=2)
