"""What the AniMo Space does, without Gradio: frame a character, animate it from a pose (sliders,
presets), from a person's video or from webcam frames, and report the time spent per frame.

``spaces/animo/app.py`` wires these to Gradio components; everything that can go wrong with what a
user gives raises :class:`DemoInputError`, whose one-line message the app shows to the user.

Examples:
    >>> from animo_hf import AniMoPipeline
    >>> from animo_hf.demo import AniMoDemo
    >>> demo = AniMoDemo(AniMoPipeline.from_pretrained("weights/animo"))  # doctest: +SKIP
    >>> character = demo.open_character("my_character.png")               # doctest: +SKIP
    >>> frame = demo.animate_pose(character, preset_pose("smile", (15, 0, 0)))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import PIL.Image

from animeceleb.pose import ANGLE_SLICE, POSE_NAMES

from .extractor import NoFaceError
from .framing import frame_character
from .pipelines import AniMoPipeline
from .streaming import AnimationStream, StreamFrame
from .video import export_to_mp4, probe_video, read_video

DEFAULT_MODEL = "animeceleb-hf/animo"
DEFAULT_LORA = "animeceleb-hf/animo-lora"  # the adapter published for DEFAULT_MODEL
VIDEO_MAX_SIDE = 640  # the face reader needs no more; frames are shrunk to this when read
PLOT_SECONDS = 10.0  # the webcam plot shows this much of the recent past
MOVING = 0.02  # a dimension is plotted when it moves further than this from 0
NO_CHARACTER = "no character: pick an example or upload an image first"


class DemoInputError(ValueError):
    """A problem with what the user gave (a file, a value); the message is shown to them."""


def not_an_image(name: str) -> DemoInputError:
    """The error for a file ``name`` that does not decode as an image."""
    return DemoInputError(
        f"{name}: not an image file; expected a PNG (RGBA, or RGB on a plain background), "
        "JPEG or WebP"
    )


@dataclass(frozen=True)
class DemoLimits:
    """What the demo accepts: uploads (images and videos) of at most ``max_upload_mb`` MB,
    videos of at most ``max_video_seconds`` seconds, images of at most ``max_image_side`` pixels
    a side."""

    max_upload_mb: float = 20.0
    max_video_seconds: float = 10.0
    max_image_side: int = 4096

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1e6)


def choose_weights(
    model: str | None, lora: str | None, *, shipped: Path, shipped_lora: Path | None = None
) -> tuple[str, str | None]:
    """The weights and LoRA adapter to load, from what the user named (``None``: nothing).
    The weights default to the ``shipped`` folder when present, with the ``shipped_lora``
    adapter when that is present too, else to :data:`DEFAULT_MODEL` with :data:`DEFAULT_LORA`;
    weights the user names get no default adapter (an adapter fits only the weights it was
    trained on). ``none`` as the adapter: none."""
    if model is None:
        if shipped.is_dir():
            model = str(shipped)
            found = shipped_lora is not None and shipped_lora.is_dir()
            default_lora = str(shipped_lora) if found else None
        else:
            model, default_lora = DEFAULT_MODEL, DEFAULT_LORA
        lora = default_lora if lora is None else lora
    return model, None if lora is None or lora.lower() == "none" else lora


@dataclass(frozen=True)
class SpaceSettings:
    """The Space's settings, from environment variables (see ``spaces/animo/app.py``)."""

    model: str
    examples: Path
    limits: DemoLimits
    resolution: int | None = None
    torch_threads: int = 1
    lora: str | None = None

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str],
        *,
        shipped: Path,
        examples: Path,
        shipped_lora: Path | None = None,
    ) -> SpaceSettings:
        """Read ``ANIMO_*`` variables; ``ValueError`` naming the variable and what it expects.
        ``ANIMO_MODEL`` and ``ANIMO_LORA`` default as :func:`choose_weights` says."""

        def number(name: str, default: float | None, kind: type = float, minimum: float = 1):
            text = environ.get(name)
            if not text:
                return default
            try:
                value = kind(text)
            except ValueError:
                value = None
            if value is None or value < minimum:
                what = "an integer" if kind is int else "a number"
                raise ValueError(f"{name}={text!r}: expected {what} >= {minimum:g}")
            return value

        defaults = DemoLimits()
        model, lora = choose_weights(
            environ.get("ANIMO_MODEL") or None,
            environ.get("ANIMO_LORA") or None,
            shipped=shipped,
            shipped_lora=shipped_lora,
        )
        return cls(
            model=model,
            lora=lora,
            examples=Path(environ.get("ANIMO_EXAMPLES") or examples),
            limits=DemoLimits(
                max_upload_mb=number("ANIMO_MAX_UPLOAD_MB", defaults.max_upload_mb),
                max_video_seconds=number("ANIMO_MAX_VIDEO_SECONDS", defaults.max_video_seconds),
            ),
            resolution=number("ANIMO_RESOLUTION", None, int, 16),
            torch_threads=number("ANIMO_TORCH_THREADS", 1, int),
        )

    @property
    def model_name(self) -> str:
        """The model (and its LoRA adapter) as the page names them: a local folder by its name
        (no server paths)."""
        names = [Path(m).name if Path(m).is_dir() else m for m in (self.model, self.lora) if m]
        return " + LoRA ".join(names)

    def load_pipeline(self) -> AniMoPipeline:
        """The pipeline of ``model`` with the adapter ``lora`` fused (``ValueError`` /
        ``OSError`` naming what could not be loaded)."""
        pipe = AniMoPipeline.from_pretrained(self.model)
        if self.lora is not None:
            pipe.load_lora_weights(self.lora)
        return pipe


@dataclass(frozen=True)
class ExampleCharacter:
    """An example character image with what must be shown with it."""

    path: Path
    label: str
    license: str
    attribution: str

    @property
    def caption(self) -> str:
        return f"{self.label}. {self.attribution} ({self.license})"

    @cached_property
    def digest(self) -> str | None:
        """Its pixels' digest (:func:`pixel_digest`), read once."""
        return pixel_digest(self.path)


def load_examples(folder: str | os.PathLike) -> list[ExampleCharacter]:
    """The example characters listed in ``folder/examples.json`` (written by
    ``scripts/space_examples.py``); ``ValueError`` naming the file and entry when one is
    incomplete or its image is missing."""
    index = Path(folder) / "examples.json"
    try:
        entries = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{index}: expected a JSON list of examples ({error})") from None
    examples = []
    for i, entry in enumerate(entries):
        missing = {"file", "label", "license", "attribution"} - set(entry)
        if missing:
            raise ValueError(f"{index}: entry {i} lacks {sorted(missing)}")
        path = index.parent / Path(entry["file"]).name
        if not path.is_file():
            raise ValueError(f"{index}: entry {i}: image {path} not found")
        examples.append(
            ExampleCharacter(path, entry["label"], entry["license"], entry["attribution"])
        )
    return examples


def character_key(character: PIL.Image.Image) -> str:
    """A digest of an image's pixels (which character a webcam session animates)."""
    return hashlib.sha1(character.tobytes()).hexdigest()


def pixel_digest(path: str | os.PathLike) -> str | None:
    """A digest of an image file's RGBA pixels (``None`` when it is no image): the same for a
    copy saved in another format."""
    try:
        with PIL.Image.open(path) as image:
            return character_key(image.convert("RGBA"))
    except (OSError, PIL.UnidentifiedImageError):
        return None


def find_example(
    examples: list[ExampleCharacter], path: str | os.PathLike
) -> ExampleCharacter | None:
    """The example whose image has the same pixels as the file at ``path`` (Gradio hands an
    example over as a copy under another name), or ``None``."""
    digest = pixel_digest(path)
    return next((e for e in examples if digest and e.digest == digest), None)


def pose_tables(poses: np.ndarray, time_s: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The driving poses (N, 20) at ``time_s`` (N,) seconds as two long tables for line plots
    (columns ``time (s)``, ``dimension``, ``value``): the head angles in degrees (always), and
    the expression dimensions that move (further than ``MOVING`` from 0 in some frame)."""

    def table(dims: range) -> pd.DataFrame:
        rows = [
            pd.DataFrame({"time (s)": time_s, "dimension": POSE_NAMES[d], "value": poses[:, d]})
            for d in dims
        ]
        if not rows:
            return pd.DataFrame({"time (s)": [], "dimension": [], "value": []})
        return pd.concat(rows, ignore_index=True)

    angles = range(ANGLE_SLICE.start, ANGLE_SLICE.stop)
    moving = [d for d in range(ANGLE_SLICE.start) if np.abs(poses[:, d]).max() > MOVING]
    return table(angles), table(moving)


@dataclass
class AnimatedFrame:
    """One animated frame (RGBA PIL) and the server-side milliseconds it took."""

    image: PIL.Image.Image
    milliseconds: float


@dataclass
class AnimatedVideo:
    """An animated video: the MP4 ``path``, the driving ``poses`` (N, 20) at ``fps``, and the
    server-side milliseconds per frame of reading the face and animating."""

    path: Path
    poses: np.ndarray
    fps: float
    milliseconds_per_frame: float


@dataclass
class WebcamSession:
    """One browser session's webcam stream: the character it animates (by content hash), the
    open :class:`AnimationStream`, and the poses driven in the last ``PLOT_SECONDS`` with the
    time each arrived (seconds since the stream opened) and the server-side milliseconds each
    took."""

    character_key: str
    stream: AnimationStream
    poses: list[np.ndarray] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    milliseconds: list[float] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    frames: int = 0  # frames animated in all

    def record(self, frame: StreamFrame) -> None:
        self.frames += 1
        now = time.monotonic() - self.started
        self.poses.append(frame.pose)
        self.times.append(now)
        self.milliseconds.append(frame.milliseconds)
        while self.times[0] < now - PLOT_SECONDS:
            del self.poses[0], self.times[0], self.milliseconds[0]

    @property
    def median_milliseconds(self) -> float:
        """The median server-side time per frame over the last ``PLOT_SECONDS``."""
        return float(np.median(self.milliseconds))

    def close(self) -> None:
        self.stream.close()


class AniMoDemo:
    """The Space's logic around one loaded pipeline (shared by every session; the pipeline's
    networks are only read).

    Args:
        pipe: the loaded pipeline.
        limits: what uploads may be.
        resolution: the side of the square frames in pixels (default: the size the weights
            were trained at, ``pipe.default_sample_size``).
        output_dir: where MP4 files are written under generated names (a new temporary folder
            by default); uploaded file names are never used as paths.
    """

    def __init__(
        self,
        pipe: AniMoPipeline,
        *,
        limits: DemoLimits | None = None,
        resolution: int | None = None,
        output_dir: str | os.PathLike | None = None,
    ) -> None:
        self.pipe = pipe
        self.resolution = resolution or pipe.default_sample_size
        if self.resolution % pipe.size_multiple:
            raise ValueError(
                f"resolution = {self.resolution}: expected a multiple of {pipe.size_multiple}"
            )
        self.pipe.set_progress_bar_config(disable=True)
        self.limits = limits or DemoLimits()
        self.output_dir = Path(output_dir or tempfile.mkdtemp(prefix="animo-space-"))
        self.output_dir.mkdir(parents=True, exist_ok=True)

    def open_character(
        self, path: str | os.PathLike | None, *, reframe: bool = True
    ) -> PIL.Image.Image:
        """A character image file as an RGBA image, framed like the training data
        (:func:`~animo_hf.framing.frame_character`: a square crop) unless ``reframe`` is False
        (an example, rendered that way)."""
        if path is None:
            raise DemoInputError(NO_CHARACTER)
        path = Path(path)
        size = path.stat().st_size
        if size > self.limits.max_upload_bytes:
            raise DemoInputError(
                f"{path.name}: {size / 1e6:.1f} MB; expected an image of at most "
                f"{self.limits.max_upload_mb:g} MB"
            )
        try:
            with PIL.Image.open(path) as image:
                if max(image.size) > self.limits.max_image_side:
                    raise DemoInputError(
                        f"{path.name}: {image.size[0]} x {image.size[1]} pixels; expected at most "
                        f"{self.limits.max_image_side} a side"
                    )
                image.load()
                return frame_character(image) if reframe else image.convert("RGBA")
        except PIL.UnidentifiedImageError:
            raise not_an_image(path.name) from None
        except ValueError as error:
            raise DemoInputError(str(error)) from None

    def animate_pose(self, character: PIL.Image.Image | None, pose: np.ndarray) -> AnimatedFrame:
        """``character`` (framed) in one (20,) pose."""
        character = self._character(character)
        start = time.perf_counter()
        (image,) = self.pipe(
            character, pose=pose, height=self.resolution, width=self.resolution
        ).frames
        return AnimatedFrame(image, (time.perf_counter() - start) * 1000)

    def animate_video(
        self, character: PIL.Image.Image | None, video: str | os.PathLike | None
    ) -> AnimatedVideo:
        """``character`` driven by the face in an uploaded ``video`` (relative to its first
        frame with a face; frames without one hold the last pose), written as an MP4."""
        character = self._character(character)
        if video is None:
            raise DemoInputError("no video: upload a video of a person's face")
        try:
            probe_video(
                video,
                max_seconds=self.limits.max_video_seconds,
                max_bytes=self.limits.max_upload_bytes,
            )
            frames, fps = read_video(video, max_side=VIDEO_MAX_SIDE)
        except (ValueError, FileNotFoundError) as error:
            raise DemoInputError(str(error)) from None
        start = time.perf_counter()
        try:
            output = self.pipe(
                character,
                driving_video=frames,
                on_missing_face="hold",
                height=self.resolution,
                width=self.resolution,
            )
        except NoFaceError:
            raise DemoInputError(
                f"{Path(video).name}: no face found at the start of the video; expected a "
                "person's face, front on, from the first frame"
            ) from None
        milliseconds = (time.perf_counter() - start) * 1000 / len(frames)
        path = export_to_mp4(output.frames, self.output_dir / f"animo-{uuid.uuid4().hex}.mp4", fps)
        return AnimatedVideo(path, output.poses, fps, milliseconds)

    def stream_frame(
        self,
        session: WebcamSession | None,
        character: PIL.Image.Image | None,
        frame: np.ndarray | None,
    ) -> tuple[WebcamSession | None, StreamFrame | None]:
        """Animate ``character`` with the face in one webcam ``frame`` (RGB): the session's
        stream is opened on the first frame and again when the character changes."""
        character = self._character(character)
        if frame is None:
            return session, None
        key = character_key(character)
        if session is None or session.character_key != key:
            if session is not None:
                session.close()
            session = WebcamSession(
                key, AnimationStream(self.pipe, character, resolution=self.resolution)
            )
        result = session.stream.step(frame)
        session.record(result)
        return session, result

    def _character(self, character: PIL.Image.Image | None) -> PIL.Image.Image:
        if character is None:
            raise DemoInputError(NO_CHARACTER)
        return character
