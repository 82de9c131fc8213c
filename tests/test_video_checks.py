"""Checking a driving video before it is decoded (an upload): size, decodability and length are
each one line naming the file."""

import pytest

from animo_hf.video import probe_video


def test_the_carphone_clip_is_probed_from_its_header(carphone_path):
    info = probe_video(carphone_path, max_seconds=60, max_bytes=10_000_000)
    assert (info.frames, info.width, info.height) == (120, 176, 144)
    assert info.seconds == pytest.approx(120 / info.fps)


def test_too_long_too_large_or_not_a_video_is_one_line(carphone_path, tmp_path):
    with pytest.raises(
        ValueError, match=r"^carphone_pristine.mp4: .* s long; expected at most 1 s"
    ):
        probe_video(carphone_path, max_seconds=1)
    with pytest.raises(ValueError, match=r"MB; expected at most 0.001 MB"):
        probe_video(carphone_path, max_bytes=1000)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(ValueError, match=r"^notes.mp4: not a video OpenCV can decode"):
        probe_video(text)
    with pytest.raises(FileNotFoundError, match="video file not found"):
        probe_video(tmp_path / "missing.mp4")
