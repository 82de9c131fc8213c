"""AniMoPipeline: drive an anime character image with pose vectors, blendshapes or a human video."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import PIL.Image
import torch
import torch.nn.functional as F
from diffusers import DiffusionPipeline
from diffusers.utils import BaseOutput

from animeceleb.pose import ANGLE_NAMES, POSE_DIM, validate_pose

from .._checks import positive_int
from ..extractor import FrameInput, HumanPoseExtractor, HumanPoseSequence
from ..image_utils import ImageInput, composite, image_to_array
from ..loading import local_folder
from ..models import EditingNetwork, MotionNetwork, PoseMapping, WarpingNetwork
from ..models.layers import warp
from ..motion_space import BLENDSHAPE_INDEX, NUM_BLENDSHAPES, compose_motion
from ..sampling import sample_poses

BlendshapeInput = HumanPoseSequence | Mapping[str, float] | Sequence[Mapping[str, float]]


@dataclass
class AniMoPipelineOutput(BaseOutput):
    """Attributes:
    frames: ``output_type="pil"``: a list of N PIL images; ``"np"``: (N, H, W, C) float32 in
        [0, 1]; ``"pt"``: (N, C, H, W) float32 in [0, 1]. C is 4 for an RGBA source, else 3.
    poses: (N, 20) float32, the pose vectors that drove the frames.
    """

    frames: list[PIL.Image.Image] | np.ndarray | torch.Tensor
    poses: np.ndarray


@dataclass
class AniMoSourceFeatures(BaseOutput):
    """The per-source cache: warping and editing encoder features, (1, C_k, H_k, W_k) each."""

    warping: tuple[torch.Tensor, ...]
    editing: tuple[torch.Tensor, ...]


@dataclass
class AniMoAnimation(BaseOutput):
    """Attributes: image (N, 3, H, W) in [-1, 1]; flow (N, 2, H / 4, W / 4)."""

    image: torch.Tensor
    flow: torch.Tensor


class AniMoPipeline(DiffusionPipeline):
    """Cross-domain head reenactment of an anime character (AniMo, anime-domain networks).

    Every driving input becomes AnimeCeleb pose vectors first (human blendshapes through the
    inverse of ``Φ``, angles clipped to ±20°), then ``m = T(p)``, ``z = F(m)``, a flow from the
    warping network and the image from the editing network. The source is encoded once per call.

    RGBA sources are composited over ``background`` for the networks, and their alpha channel is
    warped with the predicted flow, so the frames keep a transparent background.

    Args:
        pose_mapping: T, pose vectors → motion vectors.
        motion_network: F, motion vectors → pose codes.
        warping_network: the anime-domain warping network.
        editing_network: the anime-domain editing network.
    """

    model_cpu_offload_seq = "pose_mapping->motion_network->warping_network->editing_network"

    def __init__(
        self,
        pose_mapping: PoseMapping,
        motion_network: MotionNetwork,
        warping_network: WarpingNetwork,
        editing_network: EditingNetwork,
    ) -> None:
        super().__init__()
        self.register_modules(
            pose_mapping=pose_mapping,
            motion_network=motion_network,
            warping_network=warping_network,
            editing_network=editing_network,
        )

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any):
        """diffusers' loader (safetensors only), after checking a local folder: it has
        ``model_index.json`` and a folder for every component not passed in ``kwargs`` (each
        component's own ``from_pretrained`` then checks its config and weights).

        A path that exists, is absolute, starts with ``.`` or ``~``, or is not a valid Hub repo id
        is a local folder (``FileNotFoundError`` if missing); anything else is a Hub repo id."""
        folder = local_folder(pretrained_model_name_or_path)
        if folder is not None:
            if not (folder / "model_index.json").is_file():
                raise FileNotFoundError(f"{folder}: expected model_index.json, not found")
            index = cls.load_config(folder)
            for name in cls._get_signature_keys(cls)[0]:
                if name in kwargs:
                    continue
                if name not in index or index[name][0] is None:
                    raise ValueError(f"{folder}: model_index.json has no component {name!r}")
                if not (folder / name).is_dir():
                    raise FileNotFoundError(f"{folder}: component folder {name!r} not found")
            pretrained_model_name_or_path = folder
        kwargs.setdefault("use_safetensors", True)
        return super().from_pretrained(pretrained_model_name_or_path, **kwargs)

    def encode_source(self, image: torch.Tensor) -> AniMoSourceFeatures:
        """Args: image (1, 3, H, W) in [-1, 1], H and W multiples of :attr:`size_multiple`."""
        return AniMoSourceFeatures(
            warping=self.warping_network.encode_source(image),
            editing=self.editing_network.encode_source(image),
        )

    def animate(self, source: AniMoSourceFeatures, pose: torch.Tensor) -> AniMoAnimation:
        """The per-frame step. Args: source from :meth:`encode_source`, pose (N, 20)."""
        z = self.motion_network(self.pose_mapping(pose))
        flow = self.warping_network(source.warping, z)
        return AniMoAnimation(image=self.editing_network(source.editing, flow, z), flow=flow)

    @property
    def size_multiple(self) -> int:
        """Image sizes must be multiples of this: the networks' total downsampling."""
        return max(
            network.config.downscale * 2 ** (len(network.config.block_out_channels) - 1)
            for network in (self.warping_network, self.editing_network)
        )

    def prepare_source(
        self, image: ImageInput, height: int, width: int, background: tuple[float, float, float]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Returns the network input (1, 3, height, width) in [-1, 1] (an RGBA image composited
        over ``background``) and the alpha channel (1, 1, height, width) in [0, 1], or None for
        an RGB image."""
        height, width = positive_int("height", height), positive_int("width", width)
        for name, size in (("height", height), ("width", width)):
            if size < self.size_multiple or size % self.size_multiple:
                raise ValueError(f"{name}: expected a multiple of {self.size_multiple}, got {size}")
        array = image_to_array(image, what="image")
        channels = np.concatenate([composite(array, background), array[..., 3:]], axis=2)
        tensor = torch.from_numpy(channels).permute(2, 0, 1)[None]
        tensor = F.interpolate(tensor, size=(height, width), mode="bilinear", antialias=True)
        tensor = tensor.clamp(0, 1).to(self.device, self.editing_network.dtype)
        alpha = tensor[:, 3:] if tensor.shape[1] == 4 else None
        return tensor[:, :3] * 2 - 1, alpha

    def poses_from_human(self, human: BlendshapeInput) -> torch.Tensor:
        """(N, 20) pose vectors from a :class:`HumanPoseSequence`, or one dict per frame mapping
        MediaPipe blendshape names (scores in [0, 1]) and ``yaw``/``pitch``/``roll`` (degrees)
        to values (absent keys are 0; a single dict is one frame)."""
        if isinstance(human, HumanPoseSequence):
            motion = human.to_motion()
        else:
            human = [human] if isinstance(human, Mapping) else human
            if isinstance(human, str | bytes) or not isinstance(human, Sequence):
                raise ValueError(
                    "blendshapes: expected a HumanPoseSequence, a dict or a sequence of dicts, "
                    f"got {type(human).__name__} {human!r:.80}"
                )
            if len(human) == 0:
                raise ValueError("blendshapes: expected a dict or a non-empty sequence of dicts")
            blendshapes = torch.zeros(len(human), NUM_BLENDSHAPES)
            angles = torch.zeros(len(human), 3)
            for i, frame in enumerate(human):
                if not isinstance(frame, Mapping):
                    raise ValueError(
                        f"blendshapes[{i}]: expected a dict of blendshape scores and angles, "
                        f"got {type(frame).__name__} {frame!r:.80}"
                    )
                for key, value in frame.items():
                    if key not in ANGLE_NAMES and key not in BLENDSHAPE_INDEX:
                        raise ValueError(
                            f"blendshapes[{i}][{key!r}] = {value!r}: expected a MediaPipe "
                            f"blendshape name with a score in [0, 1] or one of {ANGLE_NAMES}"
                        )
                    try:
                        number = float(value)
                    except (TypeError, ValueError):
                        raise ValueError(
                            f"blendshapes[{i}][{key!r}] = {value!r:.80}: expected a number"
                        ) from None
                    if not math.isfinite(number):
                        raise ValueError(
                            f"blendshapes[{i}][{key!r}] = {number}: expected a finite number"
                        )
                    if key in ANGLE_NAMES:
                        angles[i, ANGLE_NAMES.index(key)] = number
                    elif 0.0 <= number <= 1.0:
                        blendshapes[i, BLENDSHAPE_INDEX[key]] = number
                    else:
                        raise ValueError(
                            f"blendshapes[{i}][{key!r}] = {value!r}: expected a MediaPipe "
                            "blendshape score in [0, 1]"
                        )
            motion = compose_motion(blendshapes, torch.deg2rad(angles))
        return self.pose_mapping.pose_from_motion(motion.to(self.device, self.pose_mapping.dtype))

    def prepare_poses(
        self,
        pose: np.ndarray | torch.Tensor | Sequence[Sequence[float]] | None,
        blendshapes: BlendshapeInput | None,
        driving_video: FrameInput | None,
        num_random_poses: int | None,
        generator: torch.Generator | None,
        relative: bool,
        on_missing_face: Literal["error", "hold"],
    ) -> torch.Tensor:
        """Turn exactly one driving input into (N, 20) validated pose vectors."""
        given = {
            "pose": pose,
            "blendshapes": blendshapes,
            "driving_video": driving_video,
            "num_random_poses": num_random_poses,
        }
        given = [name for name, value in given.items() if value is not None]
        if len(given) != 1:
            raise ValueError(
                "expected exactly one of pose, blendshapes, driving_video or num_random_poses, "
                f"got {given or 'none'}"
            )
        if pose is not None:
            array = pose.detach().cpu().numpy() if isinstance(pose, torch.Tensor) else pose
            array = np.asarray(array)
            if not np.issubdtype(array.dtype, np.floating):
                raise ValueError(f"pose: expected float values, got dtype {array.dtype}")
            array = array[None] if array.ndim == 1 else array
            if array.ndim != 2 or array.shape[1] != POSE_DIM or len(array) == 0:
                raise ValueError(f"pose: expected shape (N, {POSE_DIM}), got {array.shape}")
            poses = array
        elif num_random_poses is not None:
            poses = sample_poses(positive_int("num_random_poses", num_random_poses), generator)
        else:
            if driving_video is not None:
                extractor = HumanPoseExtractor(relative=relative, on_missing_face=on_missing_face)
                blendshapes = extractor.extract(driving_video)
            poses = self.poses_from_human(blendshapes)
        # Every branch ends here: finite values in the pose vector's ranges, or a ValueError.
        if isinstance(poses, torch.Tensor):
            poses = poses.detach().float().cpu().numpy()
        what = "pose" if pose is not None else f"pose from {given[0]}"
        poses = np.stack([validate_pose(p, what=f"{what}[{i}]") for i, p in enumerate(poses)])
        return torch.from_numpy(poses).to(self.device, self.pose_mapping.dtype)

    def postprocess(
        self, images: torch.Tensor, output_type: Literal["pil", "np", "pt"]
    ) -> list[PIL.Image.Image] | np.ndarray | torch.Tensor:
        """(N, C, H, W) in [0, 1] → the requested output type."""
        images = images.float().cpu()
        if output_type == "pt":
            return images
        array = images.permute(0, 2, 3, 1).numpy()
        if output_type == "np":
            return array
        return [PIL.Image.fromarray(np.round(a * 255).astype(np.uint8)) for a in array]

    @torch.no_grad()
    def __call__(
        self,
        image: ImageInput,
        pose: np.ndarray | torch.Tensor | Sequence[Sequence[float]] | None = None,
        blendshapes: BlendshapeInput | None = None,
        driving_video: FrameInput | None = None,
        num_random_poses: int | None = None,
        height: int = 256,
        width: int = 256,
        background: tuple[float, float, float] = (1.0, 1.0, 1.0),
        relative: bool = True,
        on_missing_face: Literal["error", "hold"] = "error",
        batch_size: int = 8,
        generator: torch.Generator | None = None,
        output_type: Literal["pil", "np", "pt"] = "pil",
        return_dict: bool = True,
    ) -> AniMoPipelineOutput | tuple:
        """Animate ``image`` with exactly one driving input.

        Args:
            image: the source character, RGB or RGBA; PIL, numpy (H, W, 3|4) or tensor (3|4, H, W)
                in [0, 1]. Resized to (height, width).
            pose: (N, 20) or (20,) AnimeCeleb pose vectors (see ``animeceleb.pose``).
            blendshapes: a :class:`HumanPoseSequence` or N dicts of MediaPipe blendshape scores
                and ``yaw``/``pitch``/``roll`` in degrees.
            driving_video: human frames (a video path, an image or a sequence of images), read
                with :class:`HumanPoseExtractor`.
            num_random_poses: draw this many poses like the AnimeCeleb sampler (uses ``generator``).
            height, width: output size, multiples of :attr:`size_multiple` (16 by default).
            background: RGB in [0, 1] under an RGBA source for the networks.
            relative: with ``driving_video``, make the first frame with a face the neutral
                reference, so every pose is relative to it. A single-frame driving video (one
                image) then always gives the neutral pose: pass ``relative=False`` to use its
                absolute expression and head angles.
            on_missing_face: with ``driving_video``, ``"error"`` or ``"hold"`` the last pose.
            batch_size: frames animated per forward pass.
            generator: random generator for ``num_random_poses``.
            output_type: ``"pil"``, ``"np"`` or ``"pt"``.
            return_dict: return :class:`AniMoPipelineOutput` rather than a tuple.

        Returns:
            :class:`AniMoPipelineOutput` (frames, poses), or ``(frames, poses)``.
        """
        # 1. Check the arguments
        if output_type not in ("pil", "np", "pt"):
            raise ValueError(f"output_type: expected 'pil', 'np' or 'pt', got {output_type!r}")
        batch_size = positive_int("batch_size", batch_size)

        # 2. The source first: a bad image or size fails before a video is read
        source, alpha = self.prepare_source(image, height, width, background)

        # 3. Driving poses, one (20,) vector a frame
        poses = self.prepare_poses(
            pose, blendshapes, driving_video, num_random_poses, generator, relative, on_missing_face
        )

        # 4. Encode the source once
        features = self.encode_source(source)

        # 5. Animate in batches
        frames = []
        for start in self.progress_bar(range(0, len(poses), batch_size)):
            animation = self.animate(features, poses[start : start + batch_size])
            frame = (animation.image + 1) / 2
            if alpha is not None:
                warped_alpha = warp(alpha.expand(len(frame), -1, -1, -1), animation.flow)
                frame = torch.cat([frame, warped_alpha], dim=1)
            frames.append(frame.clamp(0, 1))

        # 6. Convert
        output = self.postprocess(torch.cat(frames), output_type)
        poses = poses.float().cpu().numpy()
        if not return_dict:
            return output, poses
        return AniMoPipelineOutput(frames=output, poses=poses)
