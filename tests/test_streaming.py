"""Streaming a live face onto a character: frames in, animated frames out, the source encoded
once, "set neutral" making the next face the resting one, and no face yet leaving the character
neutral."""

import numpy as np
import PIL.Image
import pytest
import torch

from animo_hf import (
    AniMoPipeline,
    EditingNetwork,
    ExpressionMorpher,
    MotionNetwork,
    PoseMapping,
    WarpingNetwork,
)
from animo_hf.streaming import AnimationStream
from animo_hf.video import read_video


@pytest.fixture(scope="module")
def pipe():
    torch.manual_seed(0)
    pipe = AniMoPipeline(
        PoseMapping(), MotionNetwork(), WarpingNetwork(), EditingNetwork(sample_size=64)
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def character() -> PIL.Image.Image:
    array = np.zeros((64, 64, 4), np.uint8)
    array[16:48, 16:48] = (230, 180, 160, 255)
    return PIL.Image.fromarray(array, "RGBA")


def test_a_stream_animates_each_frame_and_set_neutral_rezeroes_the_pose(pipe, carphone_path):
    frames, _ = read_video(carphone_path)
    encodes = []
    original = pipe.encode_source
    pipe.encode_source = lambda image: encodes.append(1) or original(image)
    try:
        with AnimationStream(pipe, character()) as stream:
            first = stream.step(frames[0])
            later = [stream.step(frame) for frame in frames[1:60:6]]
            stream.set_neutral()
            rezeroed = stream.step(frames[60])
    finally:
        pipe.encode_source = original
    assert len(encodes) == 1, "the source must be encoded once per stream"
    assert first.image.size == (64, 64) and first.image.mode == "RGBA"
    assert first.face_found and np.abs(first.pose).max() < 1e-3  # the reference is neutral
    assert any(np.abs(f.pose).max() > 0.05 for f in later), "the face's motion never arrived"
    assert np.abs(rezeroed.pose).max() < 1e-3, "set_neutral did not make the frame the reference"
    assert all(f.milliseconds > 0 for f in [first, *later, rezeroed])


def test_no_face_yet_leaves_the_character_neutral(pipe):
    blank = np.full((144, 176, 3), 90, np.uint8)
    with AnimationStream(pipe, character()) as stream:
        frame = stream.step(blank)
    assert not frame.face_found and not frame.pose.any()
    assert frame.image.size == (64, 64)


def test_with_an_expression_morpher_a_held_expression_is_drawn_once(pipe):
    """The expression stage runs again only when a frame's expression values change: no face
    in three frames (the neutral pose each time) is one morpher run and one encoding."""
    torch.manual_seed(0)
    morpher = ExpressionMorpher(block_out_channels=(8, 16))
    expressed = AniMoPipeline(**{**pipe.components, "expression_morpher": morpher})
    calls, encodes = [], []
    original_forward, original_encode = morpher.forward, expressed.encode_source
    morpher.forward = lambda image, expression: (
        calls.append(1) or original_forward(image, expression)
    )
    expressed.encode_source = lambda image: encodes.append(1) or original_encode(image)
    blank = np.full((144, 176, 3), 90, np.uint8)
    with AnimationStream(expressed, character()) as stream:
        frames = [stream.step(blank) for _ in range(3)]
    assert len(calls) == 1 and len(encodes) == 1
    assert all(frame.image.size == (64, 64) and frame.image.mode == "RGBA" for frame in frames)
    # A stream on the pipeline without the morpher draws the same neutral frames when the
    # morpher's alpha is 0 (then the stage is the identity).
    with torch.no_grad():
        morpher.alpha_head.weight.zero_()
        morpher.alpha_head.bias.fill_(-1e4)
    with AnimationStream(expressed, character()) as stream:
        identity = stream.step(blank).image
    with AnimationStream(pipe, character()) as stream:
        plain = stream.step(blank).image
    assert np.array_equal(np.asarray(identity), np.asarray(plain))
