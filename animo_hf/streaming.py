"""Animate a character frame by frame from a live camera: the source is encoded once (with an
expression morpher, again only when the expression changes), each frame's face is read in
MediaPipe's video mode relative to a neutral reference, and "set neutral" makes the next frame
the new reference (the Space's webcam path)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import PIL.Image
import torch

from animeceleb.pose import POSE_DIM

from .extractor import HumanPoseExtractor, NoFaceError
from .image_utils import ImageInput
from .pipelines import AniMoPipeline, AniMoSourceCache

WHITE = (1.0, 1.0, 1.0)


@dataclass
class StreamFrame:
    """One animated frame: ``image`` (RGBA PIL for an RGBA character), ``pose`` (20,) the driving
    pose, ``face_found`` (False: no face yet, the character stays neutral, or the last pose is
    held) and ``milliseconds`` spent on the frame (face reading and animation)."""

    image: PIL.Image.Image
    pose: np.ndarray
    face_found: bool
    milliseconds: float


class AnimationStream:
    """Drive ``character`` with the faces in a stream of frames.

    Args:
        pipe: the pipeline (its networks are used directly; the source is encoded once or, with
            an expression morpher, expressed and encoded again only when a frame's expression
            values differ from the frame before's: :class:`AniMoSourceCache`).
        character: the source image (see :meth:`AniMoPipeline.__call__`).
        resolution: the side of the square frames in pixels (default: the size the weights
            were trained at).
        fps: the stream's frame rate, for MediaPipe's video-mode clock.
        extractor: a :class:`HumanPoseExtractor` in relative mode holding the last pose when a
            frame has no face (made and opened here when not given; closed by :meth:`close`).

    Examples:
        >>> stream = AnimationStream(pipe, character)  # doctest: +SKIP
        >>> frame = stream.step(webcam_frame)          # .image, .pose, .milliseconds
        >>> stream.set_neutral()                       # the next frame is the resting face
    """

    def __init__(
        self,
        pipe: AniMoPipeline,
        character: ImageInput,
        *,
        resolution: int | None = None,
        fps: float = 30.0,
        extractor: HumanPoseExtractor | None = None,
    ) -> None:
        self.pipe = pipe
        self.fps = fps
        resolution = resolution or pipe.default_sample_size
        source, self.alpha = pipe.prepare_source(character, resolution, resolution, WHITE)
        with torch.no_grad():
            self.sources = AniMoSourceCache(pipe, source)
        self.extractor = extractor or HumanPoseExtractor(relative=True, on_missing_face="hold")
        self.extractor.open()

    def set_neutral(self) -> None:
        """Make the next frame with a face the neutral reference."""
        self.extractor.reset_reference()

    @torch.no_grad()
    def step(self, frame: ImageInput) -> StreamFrame:
        """Animate the character with the face in ``frame`` (an RGB image)."""
        start = time.perf_counter()
        try:
            human = self.extractor.extract(frame, fps=self.fps)
            poses = self.pipe.prepare_poses(
                pose=None,
                blendshapes=human,
                driving_video=None,
                num_random_poses=None,
                generator=None,
                relative=True,
                on_missing_face="hold",
            )
            face_found = bool(human.face_found[0])
        except NoFaceError:  # no face yet: the neutral character
            poses = torch.zeros(1, POSE_DIM, device=self.pipe._execution_device)
            face_found = False
        poses = poses.to(self.pipe.pose_mapping.dtype)
        animation = self.pipe.animate(self.sources(poses), poses)
        frames = self.pipe.frames_from_animation(animation, self.alpha)
        (image,) = self.pipe.postprocess(frames, "pil")
        elapsed = (time.perf_counter() - start) * 1000
        return StreamFrame(image, poses[0].float().cpu().numpy(), face_found, elapsed)

    def close(self) -> None:
        self.extractor.close()

    def __enter__(self) -> AnimationStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
