"""Real Blender renders of a procedural character: styles, transparency and what the pose means.

A head's renders come from one spawned Blender worker per module, a posed body's from another
(bpy never enters pytest).
"""

import io
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from PIL import Image

from animeceleb.pose import POSE_INDEX, TARGET_MORPH_NAMES
from dataset_builder.procedural import character_spec
from dataset_builder.sources import procedural_sources
from dataset_builder.styles import STYLE_NAMES
from dataset_builder.worker import run_job

RESOLUTION = 128
MORPH_VALUES = (0.25, 0.5, 0.75)


def _seed_with_all_targets() -> int:
    return next(
        s for s in range(100) if set(character_spec(s).present_targets) == set(TARGET_MORPH_NAMES)
    )


def _pose(**values: float) -> list[float]:
    pose = [0.0] * 20
    for name, value in values.items():
        pose[POSE_INDEX[name]] = value
    return pose


POSES = {
    "neutral": _pose(),
    "eye_L": _pose(eye_close_L=1),
    "eye_R": _pose(eye_close_R=1),
    "mouth": _pose(mouth_a=1),
    **{f"mouth_{value}": _pose(mouth_a=value) for value in MORPH_VALUES},
    **{f"eye_L_{value}": _pose(eye_close_L=value) for value in MORPH_VALUES},
    **{
        f"{angle}{sign:+d}{suffix}": _pose(**{angle: 20.0 * sign}, **extra)
        for angle in ("yaw", "pitch", "roll")
        for sign in (1, -1)
        for suffix, extra in (
            ("", {}),
            ("_mouth", {"mouth_a": 1}),
            ("_eye_L", {"eye_close_L": 1}),
            ("_eye_R", {"eye_close_R": 1}),
        )
    },
}


def _decode(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.mode == "RGBA"
    return np.asarray(image).astype(np.int16)


@pytest.fixture(scope="module")
def renders():
    source = procedural_sources(1, _seed_with_all_targets())[0]
    names = list(POSES)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        cel = pool.submit(run_job, "render_poses", source, list(POSES.values()), "cel", RESOLUTION)
        styles = {
            style: pool.submit(
                run_job, "render_poses", source, [POSES["neutral"]], style, RESOLUTION
            )
            for style in STYLE_NAMES
        }
        by_pose = dict(zip(names, (_decode(p) for p in cel.result()), strict=True))
        by_style = {style: _decode(f.result()[0]) for style, f in styles.items()}
    return by_pose, by_style


def _changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(row, col) coordinates of pixels that differ between two renders."""
    rows, cols = np.nonzero(np.abs(a - b).max(axis=-1) > 24)
    return np.stack([rows, cols], axis=1)


def _centre(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    changed = _changed(a, b)
    assert len(changed) > 10, "the morph changed almost no pixels"
    return changed.mean(axis=0)


def test_each_style_renders_an_rgba_head_on_transparency(renders):
    _, by_style = renders
    for style, image in by_style.items():
        alpha = image[..., 3]
        assert image.shape == (RESOLUTION, RESOLUTION, 4), style
        corners = [alpha[0, 0], alpha[0, -1], alpha[-1, 0], alpha[-1, -1]]
        assert max(corners) == 0, f"{style}: background is not transparent"
        coverage = (alpha > 128).mean()
        assert 0.15 < coverage < 0.9, f"{style}: head covers {coverage:.0%} of the image"
        assert image[alpha > 128][:, :3].std() > 10, f"{style}: the head is one flat colour"


def test_styles_look_different(renders):
    _, by_style = renders
    styles = list(by_style)
    for i, a in enumerate(styles):
        for b in styles[i + 1 :]:
            mean_diff = np.abs(by_style[a][..., :3] - by_style[b][..., :3]).mean()
            assert mean_diff > 2.0, f"{a} and {b} look the same ({mean_diff:.2f})"


def test_eye_close_left_changes_only_the_image_right_eye(renders):
    by_pose, _ = renders
    neutral = by_pose["neutral"]
    left, right = _changed(neutral, by_pose["eye_L"]), _changed(neutral, by_pose["eye_R"])
    assert len(left) > 10 and len(right) > 10
    assert left[:, 1].min() > RESOLUTION / 2, "eye_close_L changed pixels on the image's left"
    assert right[:, 1].max() < RESOLUTION / 2, "eye_close_R changed pixels on the image's right"
    for changed in (left, right):
        height = changed[:, 0].max() - changed[:, 0].min()
        assert height < RESOLUTION * 0.2, "an eye morph changed pixels far from the eye"


@pytest.mark.parametrize(("morph", "full"), [("mouth", "mouth"), ("eye_L", "eye_L")])
def test_a_morph_changes_the_image_more_as_its_value_grows(renders, morph, full):
    by_pose, _ = renders
    neutral = by_pose["neutral"]
    images = [by_pose[f"{morph}_{value}"] for value in MORPH_VALUES] + [by_pose[full]]
    change = [np.abs(image - neutral)[..., :3].sum() for image in images]
    values = (*MORPH_VALUES, 1.0)
    assert change[0] > 0, f"{morph} at {values[0]} changed nothing"
    for i in range(1, len(values)):
        assert change[i] > change[i - 1] * 1.05, (
            f"{morph}: the image changed no more at {values[i]} ({change[i]}) "
            f"than at {values[i - 1]} ({change[i - 1]})"
        )


def test_mouth_a_changes_pixels_around_the_mouth(renders):
    by_pose, _ = renders
    neutral = by_pose["neutral"]
    mouth = _changed(neutral, by_pose["mouth"])
    eye_row = _centre(neutral, by_pose["eye_L"])[0]
    assert len(mouth) > 10
    assert mouth[:, 0].min() > eye_row, "mouth_a changed pixels at or above the eyes"
    assert abs(mouth[:, 1].mean() - RESOLUTION / 2) < RESOLUTION * 0.1
    assert mouth[:, 1].max() - mouth[:, 1].min() < RESOLUTION * 0.3


def _mouth_at(by_pose, pose: str) -> np.ndarray:
    return _centre(by_pose[pose], by_pose[f"{pose}_mouth"])


def test_yaw_turns_the_face_toward_the_image_right(renders):
    by_pose, _ = renders
    frontal = _centre(by_pose["neutral"], by_pose["mouth"])
    assert _mouth_at(by_pose, "yaw+1")[1] > frontal[1] + 2
    assert _mouth_at(by_pose, "yaw-1")[1] < frontal[1] - 2


def test_pitch_tilts_the_face_up(renders):
    by_pose, _ = renders
    frontal = _centre(by_pose["neutral"], by_pose["mouth"])
    assert _mouth_at(by_pose, "pitch+1")[0] < frontal[0] - 2  # rows grow downward
    assert _mouth_at(by_pose, "pitch-1")[0] > frontal[0] + 2


def test_roll_tilts_the_top_of_the_head_toward_the_image_right(renders):
    by_pose, _ = renders
    for sign in (1, -1):
        pose = f"roll{sign:+d}"
        left_eye = _centre(by_pose[pose], by_pose[f"{pose}_eye_L"])  # on the image's right
        right_eye = _centre(by_pose[pose], by_pose[f"{pose}_eye_R"])
        # Top toward the image's right: the image-right eye drops below the image-left eye.
        assert sign * (left_eye[0] - right_eye[0]) > 2


def test_a_posed_body_shows_in_the_frame_and_stays_still_while_the_head_turns():
    seed = next(
        s
        for s in range(100)
        if character_spec(s, "posed").arms == "t-pose"
        and character_spec(s, "posed").hair_style in ("short", "spiky")
    )
    source = procedural_sources(1, seed, "posed")[0]
    poses = [_pose(), _pose(yaw=20.0), _pose(pitch=-20.0), _pose(roll=20.0)]
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        job = pool.submit(run_job, "render_poses", source, poses, "cel", RESOLUTION)
        images = [_decode(png) for png in job.result()]
    frontal, turned = images[0], images[1:]
    # the arms, held out to the sides, reach the image's left and right edges near the bottom
    arms = frontal[..., 3][RESOLUTION // 2 :, [0, -1]] > 128
    assert arms.any(axis=0).all(), "no arm at the image's sides"
    rows = np.nonzero(arms.any(axis=1))[0] + RESOLUTION // 2
    sides = np.r_[0 : RESOLUTION // 8, RESOLUTION - RESOLUTION // 8 : RESOLUTION]
    for image in turned:
        assert np.abs(image - frontal)[rows][:, sides].max() <= 2  # the arms do not move
        head = len(_changed(image[: RESOLUTION // 2], frontal[: RESOLUTION // 2]))
        assert head > 200  # the head does
