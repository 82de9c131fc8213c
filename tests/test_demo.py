"""The Space's logic (``animo_hf.demo``) without Gradio: characters framed or refused, poses and
videos animated, webcam sessions opened once per character, and every bad input a one-line
``DemoInputError``."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

from animeceleb.pose import POSE_DIM, POSE_INDEX
from animo_hf import AniMoPipeline, EditingNetwork, MotionNetwork, PoseMapping, WarpingNetwork
from animo_hf.demo import (
    DEFAULT_LORA,
    DEFAULT_MODEL,
    AniMoDemo,
    DemoInputError,
    DemoLimits,
    ExampleCharacter,
    SpaceSettings,
    find_example,
    load_examples,
    pose_tables,
)
from animo_hf.video import export_to_mp4, read_video

EXAMPLES = Path(__file__).resolve().parents[1] / "spaces" / "animo" / "examples"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    torch.manual_seed(0)
    pipe = AniMoPipeline(
        PoseMapping(), MotionNetwork(), WarpingNetwork(), EditingNetwork(sample_size=64)
    )
    limits = DemoLimits(max_upload_mb=1.0, max_video_seconds=3.0, max_image_side=1000)
    return AniMoDemo(pipe, limits=limits, output_dir=tmp_path_factory.mktemp("demo-out"))


def rgb_on_plain_background(path: Path) -> Path:
    array = np.full((120, 200, 3), 40, np.uint8)  # dark plain background
    array[30:90, 120:170] = (230, 190, 170)  # the character, off centre: 60 x 50
    PIL.Image.fromarray(array).save(path)
    return path


def test_an_rgb_upload_is_framed_as_a_square_rgba_crop(demo, tmp_path):
    character = demo.open_character(rgb_on_plain_background(tmp_path / "upload.png"))
    assert character.mode == "RGBA" and character.size[0] == character.size[1]
    alpha = np.asarray(character)[..., 3]
    assert alpha[0, 0] == 0 and alpha[alpha.shape[0] // 2, alpha.shape[1] // 2] == 255
    # An example is shown as rendered: not re-cropped.
    example = load_examples(EXAMPLES)[0]
    assert demo.open_character(example.path, reframe=False).size == (256, 256)


def test_bad_character_files_are_one_line_messages(demo, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(DemoInputError, match=r"^notes.png: not an image file; expected a PNG"):
        demo.open_character(text)
    wide = tmp_path / "wide.png"
    PIL.Image.new("RGB", (1200, 10), "white").save(wide)
    with pytest.raises(DemoInputError, match=r"wide.png: 1200 x 10 pixels; expected at most 1000"):
        demo.open_character(wide)
    noise = tmp_path / "big.png"
    PIL.Image.fromarray(np.random.default_rng(0).integers(0, 255, (800, 800, 3), np.uint8)).save(
        noise
    )
    with pytest.raises(DemoInputError, match=r"big.png: 1.9 MB; expected an image of at most 1 MB"):
        demo.open_character(noise)
    plain = tmp_path / "plain.png"
    PIL.Image.new("RGB", (50, 50), "white").save(plain)
    with pytest.raises(DemoInputError, match="no character found"):
        demo.open_character(plain)
    with pytest.raises(DemoInputError, match="no character: pick an example or upload"):
        demo.open_character(None)
    with pytest.raises(DemoInputError, match="no character"):
        demo.animate_pose(None, np.zeros(POSE_DIM, np.float32))


def test_a_pose_animates_the_character_and_reports_its_time(demo, tmp_path):
    character = demo.open_character(rgb_on_plain_background(tmp_path / "c.png"))
    pose = np.zeros(POSE_DIM, np.float32)
    pose[POSE_INDEX["yaw"]] = 15.0
    frame = demo.animate_pose(character, pose)
    assert frame.image.size == (64, 64) and frame.image.mode == "RGBA"
    assert frame.milliseconds > 0


def test_a_video_drives_the_character_into_an_mp4_with_its_poses(demo, tmp_path, carphone_path):
    character = demo.open_character(rgb_on_plain_background(tmp_path / "c.png"))
    frames, fps = read_video(carphone_path)
    clip = export_to_mp4(frames[:45], tmp_path / "clip.mp4", fps=fps)  # 1.5 s
    video = demo.animate_video(character, clip)
    assert video.path.parent == demo.output_dir and "clip" not in video.path.name
    back, back_fps = read_video(video.path)
    assert len(back) == 45 and back[0].shape == (64, 64, 3) and back_fps == pytest.approx(fps)
    assert video.poses.shape == (45, POSE_DIM) and video.milliseconds_per_frame > 0
    assert np.abs(video.poses[0]).max() < 1e-3  # relative to the first face
    angles, expressions = pose_tables(video.poses, np.arange(45) / video.fps)
    assert set(angles["dimension"]) == {"yaw", "pitch", "roll"} and len(angles) == 3 * 45
    assert angles["time (s)"].max() == pytest.approx(44 / fps)
    assert set(expressions["dimension"]) <= set(POSE_INDEX)


def test_bad_videos_are_one_line_messages(demo, tmp_path):
    character = demo.open_character(rgb_on_plain_background(tmp_path / "c.png"))
    blank = [np.full((96, 96, 3), 0.4, np.float32)] * 10
    no_face = export_to_mp4(blank, tmp_path / "empty_room.mp4", fps=10)
    with pytest.raises(DemoInputError, match=r"^empty_room.mp4: no face found at the start"):
        demo.animate_video(character, no_face)
    long = export_to_mp4(blank * 4, tmp_path / "long.mp4", fps=10)
    with pytest.raises(DemoInputError, match=r"long.mp4: 4.0 s long; expected at most 3 s"):
        demo.animate_video(character, long)
    text = tmp_path / "clip.mp4"
    text.write_text("not a video")
    with pytest.raises(DemoInputError, match="clip.mp4: not a video OpenCV can decode"):
        demo.animate_video(character, text)
    with pytest.raises(DemoInputError, match="no video"):
        demo.animate_video(character, None)


def test_a_webcam_session_opens_once_per_character(demo, tmp_path, carphone_path):
    frames, _ = read_video(carphone_path)
    character = demo.open_character(rgb_on_plain_background(tmp_path / "c.png"))
    session, first = demo.stream_frame(None, character, frames[0])
    stream = session.stream
    for frame in frames[1:40:3]:
        session, result = demo.stream_frame(session, character, frame)
    assert session.stream is stream and len(session.poses) == 1 + len(frames[1:40:3])
    assert session.times == sorted(session.times) and session.times[-1] < 10
    assert len(session.milliseconds) == len(session.poses) and session.median_milliseconds > 0
    assert first.face_found and result.image.size == (64, 64)
    assert any(np.abs(p).max() > 0.05 for p in session.poses), "the face's motion never arrived"
    session.stream.set_neutral()
    session, rezeroed = demo.stream_frame(session, character, frames[60])
    assert np.abs(rezeroed.pose).max() < 1e-3
    # Another character: a new stream; no frame yet (the camera starting): nothing animated.
    other = character.transpose(PIL.Image.Transpose.ROTATE_90)
    session, _ = demo.stream_frame(session, other, frames[61])
    assert session.stream is not stream and len(session.poses) == 1
    assert demo.stream_frame(session, other, None) == (session, None)
    session.close()


def test_examples_load_with_their_attribution_and_are_found_by_pixels(tmp_path):
    examples = load_examples(EXAMPLES)
    assert len(examples) >= 4
    assert all(e.license and e.attribution and e.path.is_file() for e in examples)
    vrm = [e for e in examples if "VRM" in e.label]
    if vrm:  # rendered when ../shared/models was present
        assert "SirRichard94" in vrm[0].caption and "cc-by-3.0" in vrm[0].caption
    copy = tmp_path / "image.png"  # Gradio hands an example over as a copy
    PIL.Image.open(examples[1].path).save(copy, optimize=True)
    assert find_example(examples, copy) == examples[1]
    assert find_example(examples, rgb_on_plain_background(tmp_path / "mine.png")) is None
    (tmp_path / "examples.json").write_text(json.dumps([{"file": "a.png", "label": "a"}]))
    with pytest.raises(ValueError, match=r"examples.json: entry 0 lacks \['attribution'"):
        load_examples(tmp_path)


def test_example_caption_names_label_attribution_and_licence():
    example = ExampleCharacter(Path("x.png"), "Godette", "cc-by-3.0", "by SirRichard94")
    assert example.caption == "Godette. by SirRichard94 (cc-by-3.0)"


def test_space_settings_from_the_environment(tmp_path):
    shipped = tmp_path / "weights" / "animo"
    settings = SpaceSettings.from_env({}, shipped=shipped, examples=EXAMPLES)
    assert settings.model == DEFAULT_MODEL and settings.lora == DEFAULT_LORA  # the Hub's
    assert settings.model_name == f"{DEFAULT_MODEL} + LoRA {DEFAULT_LORA}"
    assert settings.limits == DemoLimits() and settings.resolution is None
    assert settings.torch_threads == 1
    shipped.mkdir(parents=True)
    environ = {
        "ANIMO_RESOLUTION": "256",
        "ANIMO_MAX_VIDEO_SECONDS": "4.5",
        "ANIMO_TORCH_THREADS": "2",
    }
    settings = SpaceSettings.from_env(environ, shipped=shipped, examples=EXAMPLES)
    assert settings.model == str(shipped) and settings.model_name == "animo"  # no server path
    assert settings.lora is None  # a local folder without an adapter beside it
    assert settings.resolution == 256 and settings.limits.max_video_seconds == 4.5
    assert settings.torch_threads == 2
    adapter = tmp_path / "weights" / "animo-lora"
    adapter.mkdir()
    settings = SpaceSettings.from_env({}, shipped=shipped, shipped_lora=adapter, examples=EXAMPLES)
    assert settings.lora == str(adapter) and settings.model_name == "animo + LoRA animo-lora"
    for environ, lora in [
        ({"ANIMO_LORA": "none"}, None),
        ({"ANIMO_MODEL": "org/other"}, None),  # the shipped adapter fits the shipped weights only
        ({"ANIMO_MODEL": "org/other", "ANIMO_LORA": "org/other-lora"}, "org/other-lora"),
    ]:
        settings = SpaceSettings.from_env(
            environ, shipped=shipped, shipped_lora=adapter, examples=EXAMPLES
        )
        assert settings.lora == lora, environ
    for name, value, expected in [
        ("ANIMO_RESOLUTION", "big", "ANIMO_RESOLUTION='big': expected an integer >= 16"),
        ("ANIMO_RESOLUTION", "8", "ANIMO_RESOLUTION='8': expected an integer >= 16"),
        ("ANIMO_MAX_UPLOAD_MB", "-1", "ANIMO_MAX_UPLOAD_MB='-1': expected a number >= 1"),
        ("ANIMO_TORCH_THREADS", "1.5", "ANIMO_TORCH_THREADS='1.5': expected an integer >= 1"),
    ]:
        with pytest.raises(ValueError, match=re.escape(expected)):
            SpaceSettings.from_env({name: value}, shipped=shipped, examples=EXAMPLES)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (("ANIMO_RESOLUTION", "big"), "error: ANIMO_RESOLUTION='big': expected an integer >= 16"),
        (("ANIMO_LORA", "/nowhere/lora"), "error: model folder not found: /nowhere/lora (and it"),
    ],
)
def test_a_bad_space_setting_stops_the_app_with_one_line(setting, expected):
    app = Path(__file__).resolve().parents[1] / "spaces" / "animo" / "app.py"
    env = {**os.environ, setting[0]: setting[1]}
    result = subprocess.run(
        [sys.executable, str(app)], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(expected)
    assert "Traceback" not in result.stderr
