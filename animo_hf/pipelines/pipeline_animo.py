"""AniMoPipeline: drive an anime character image with pose vectors, blendshapes or a human video."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import PIL.Image
import torch
import torch.nn.functional as F
from diffusers import DiffusionPipeline
from diffusers.utils import BaseOutput, replace_example_docstring

from animeceleb.pose import POSE_DIM, validate_pose

from .._checks import check_batch, positive_int
from ..extractor import FrameInput, HumanPoseExtractor, HumanPoseSequence
from ..image_utils import ImageInput, composite, image_to_array
from ..lora import fuse_lora_weights, lora_file
from ..models import EditingNetwork, ExpressionMorpher, MotionNetwork, PoseMapping, WarpingNetwork
from ..models.layers import warp
from ..motion_space import motion_from_blendshapes
from ..sampling import sample_poses
from .source_cache import AniMoSourceCache, AniMoSourceFeatures
from .strict_loading import StrictPipelineLoadingMixin

BlendshapeInput = HumanPoseSequence | Mapping[str, float] | Sequence[Mapping[str, float]]
PoseInput = np.ndarray | torch.Tensor | Sequence[float] | Sequence[Sequence[float]]
OUTPUT_TYPES = ("pil", "np", "pt")

EXAMPLE_DOC_STRING = """
    Examples:
        ```py
        >>> import PIL.Image
        >>> import torch
        >>> from animo_hf import AniMoPipeline, export_to_mp4

        >>> pipe = AniMoPipeline.from_pretrained("animeceleb-hf/animo")
        >>> character = PIL.Image.open("character.png")  # RGBA: the frames keep its alpha
        >>> output = pipe(
        ...     character, num_random_poses=8, generator=torch.Generator().manual_seed(0)
        ... )
        >>> len(output.frames), output.frames[0].size, output.frames[0].mode
        (8, (256, 256), 'RGBA')
        >>> output.poses.shape
        (8, 20)
        >>> video = export_to_mp4(output.frames, "character.mp4", fps=8)

        ```
"""


@dataclass
class AniMoPipelineOutput(BaseOutput):
    """Output class for :class:`AniMoPipeline`.

    Args:
        frames (`list[PIL.Image.Image]`, `np.ndarray` or `torch.Tensor`):
            ``output_type="pil"``: a list of N PIL images; ``"np"``: (N, H, W, C) float32 in
            [0, 1]; ``"pt"``: (N, C, H, W) float32 in [0, 1]. C is 4 for an RGBA source, else 3.
        poses (`np.ndarray`):
            (N, 20) float32, the pose vectors that drove the frames.
    """

    frames: list[PIL.Image.Image] | np.ndarray | torch.Tensor
    poses: np.ndarray


@dataclass
class AniMoAnimation(BaseOutput):
    """Attributes: image (N, 3, H, W) in [-1, 1]; flow (N, 2, H / 4, W / 4)."""

    image: torch.Tensor
    flow: torch.Tensor


class AniMoPipeline(StrictPipelineLoadingMixin, DiffusionPipeline):
    """Cross-domain head reenactment of an anime character (AniMo, anime-domain networks).

    Every driving input becomes AnimeCeleb pose vectors first (human blendshapes through the
    inverse of ``Φ``, angles clipped to ±20°), then ``m = T(p)``, ``z = F(m)``, a flow from the
    warping network and the image from the editing network. The source is encoded once per call.

    With an ``expression_morpher`` (the expression stage), each frame's 17 expression values are
    drawn onto the neutral source first (:meth:`express`), and the warping and editing networks
    (the rotator) turn the head of that expressed source; it is expressed and encoded again only
    when the expression values change (:class:`AniMoSourceCache`).

    RGBA sources are composited over ``background`` for the networks, and their alpha channel is
    warped with the predicted flow, so the frames keep a transparent background.

    Args:
        pose_mapping (:class:`PoseMapping`):
            T, pose vectors → motion vectors.
        motion_network (:class:`MotionNetwork`):
            F, motion vectors → pose codes.
        warping_network (:class:`WarpingNetwork`):
            The anime-domain warping network.
        editing_network (:class:`EditingNetwork`):
            The anime-domain editing network.
        expression_morpher (:class:`ExpressionMorpher`, *optional*):
            The expression stage. Without it (``None``, the default) the rotator animates the
            source as given.
    """

    model_cpu_offload_seq = (
        "expression_morpher->pose_mapping->motion_network->warping_network->editing_network"
    )
    _optional_components = ["expression_morpher"]

    def __init__(
        self,
        pose_mapping: PoseMapping,
        motion_network: MotionNetwork,
        warping_network: WarpingNetwork,
        editing_network: EditingNetwork,
        expression_morpher: ExpressionMorpher | None = None,
    ) -> None:
        super().__init__()
        self.register_modules(
            pose_mapping=pose_mapping,
            motion_network=motion_network,
            warping_network=warping_network,
            editing_network=editing_network,
            expression_morpher=expression_morpher,
        )

    def load_lora_weights(
        self,
        pretrained_model_name_or_path: str | os.PathLike,
        lora_scale: float = 1.0,
        **kwargs: Any,
    ) -> None:
        """Fuse a LoRA adapter into the networks (motion, warping and editing; an expression
        morpher is left as it is): a folder (or Hub repo id) holding
        ``pytorch_lora_weights.safetensors`` from a run trained with ``lora_rank``
        (:mod:`animo_hf.lora`). ``lora_scale`` scales the update (1: as trained). The adapter
        must have been trained on these weights (``ValueError`` otherwise); once fused, the
        networks run as fast as before. ``kwargs`` go to ``hf_hub_download`` for a repo id.

        Examples:
            ```py
            >>> pipe = AniMoPipeline.from_pretrained("weights/animo")
            >>> pipe.load_lora_weights("weights/animo-lora")
            ```
        """
        fuse_lora_weights(
            self.components, lora_file(pretrained_model_name_or_path, **kwargs), lora_scale
        )

    @property
    def default_sample_size(self) -> int:
        """The default frame size: the size the editing network was trained at
        (its ``sample_size``)."""
        return int(self.editing_network.config.sample_size)

    @property
    def size_multiple(self) -> int:
        """Image sizes must be multiples of this: the networks' total downsampling."""
        return max(
            network.config.downscale * 2 ** (len(network.config.block_out_channels) - 1)
            for network in (self.warping_network, self.editing_network)
        )

    def check_inputs(
        self,
        pose: PoseInput | None,
        blendshapes: BlendshapeInput | None,
        driving_video: FrameInput | None,
        num_random_poses: int | None,
        height: int,
        width: int,
        batch_size: int,
        output_type: str,
    ) -> None:
        """Raise ``ValueError`` naming the first argument of :meth:`__call__` that is wrong: an
        unknown ``output_type``, a size or count that is not a positive integer, a size that is not
        a multiple of :attr:`size_multiple`, or not exactly one driving input. The source image
        and the driving values themselves are checked as they are read."""
        if output_type not in OUTPUT_TYPES:
            raise ValueError(f"output_type: expected 'pil', 'np' or 'pt', got {output_type!r}")
        positive_int("batch_size", batch_size)
        for name, value in (("height", height), ("width", width)):
            size = positive_int(name, value)
            if size < self.size_multiple or size % self.size_multiple:
                raise ValueError(f"{name}: expected a multiple of {self.size_multiple}, got {size}")
        driving = {
            "pose": pose,
            "blendshapes": blendshapes,
            "driving_video": driving_video,
            "num_random_poses": num_random_poses,
        }
        given = [name for name, value in driving.items() if value is not None]
        if len(given) != 1:
            raise ValueError(
                "expected exactly one of pose, blendshapes, driving_video or num_random_poses, "
                f"got {given or 'none'}"
            )
        if num_random_poses is not None:
            positive_int("num_random_poses", num_random_poses)

    def prepare_source(
        self, image: ImageInput, height: int, width: int, background: tuple[float, float, float]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Returns the network input (1, 3, height, width) in [-1, 1] (an RGBA image composited
        over ``background``) and the alpha channel (1, 1, height, width) in [0, 1], or None for
        an RGB image."""
        array = image_to_array(image, what="image")
        channels = np.concatenate([composite(array, background), array[..., 3:]], axis=2)
        tensor = torch.from_numpy(channels).permute(2, 0, 1)[None]
        tensor = F.interpolate(tensor, size=(height, width), mode="bilinear", antialias=True)
        tensor = tensor.clamp(0, 1).to(self._execution_device, self.editing_network.dtype)
        alpha = tensor[:, 3:] if tensor.shape[1] == 4 else None
        return tensor[:, :3] * 2 - 1, alpha

    def poses_from_human(self, human: BlendshapeInput) -> torch.Tensor:
        """(N, 20) pose vectors from a :class:`HumanPoseSequence`, or from blendshape dicts (see
        :func:`~animo_hf.motion_space.motion_from_blendshapes`), through the inverse of ``T``."""
        if isinstance(human, HumanPoseSequence):
            motion = human.to_motion()
        else:
            motion = motion_from_blendshapes(human)
        motion = motion.to(self._execution_device, self.pose_mapping.dtype)
        return self.pose_mapping.pose_from_motion(motion)

    def prepare_poses(
        self,
        pose: PoseInput | None,
        blendshapes: BlendshapeInput | None,
        driving_video: FrameInput | None,
        num_random_poses: int | None,
        generator: torch.Generator | None,
        relative: bool,
        on_missing_face: Literal["error", "hold"],
    ) -> torch.Tensor:
        """Turn the one driving input (see :meth:`check_inputs`) into (N, 20) pose vectors, each
        validated with ``animeceleb.pose.validate_pose``."""
        if pose is not None:
            poses, what = pose_array(pose), "pose"
        elif num_random_poses is not None:
            poses, what = sample_poses(num_random_poses, generator), "pose from num_random_poses"
        elif driving_video is not None:
            extractor = HumanPoseExtractor(relative=relative, on_missing_face=on_missing_face)
            human = extractor.extract(driving_video)
            poses, what = self.poses_from_human(human), "pose from driving_video"
        else:
            poses, what = self.poses_from_human(blendshapes), "pose from blendshapes"
        if isinstance(poses, torch.Tensor):
            poses = poses.detach().float().cpu().numpy()
        poses = np.stack([validate_pose(p, what=f"{what}[{i}]") for i, p in enumerate(poses)])
        return torch.from_numpy(poses).to(self._execution_device, self.pose_mapping.dtype)

    def express(self, image: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
        """The expression stage: ``expression`` (N, 17) in [0, 1] (poses' first 17 values) drawn
        by the ``expression_morpher`` onto the neutral source ``image`` (1, 3, H, W) in [-1, 1].

        Returns (N, 3, H, W) in [-1, 1]: pixels outside the morpher's crop are exact copies of
        ``image``. Without a morpher, ``image`` itself.
        """
        morpher = self.expression_morpher
        if morpher is None:
            return image
        expressed = morpher(image.to(morpher.dtype), expression.to(morpher.dtype)).image
        return expressed.to(image.dtype)

    def encode_source(self, image: torch.Tensor) -> AniMoSourceFeatures:
        """The rotator's source encoding. Args: image (1 or N, 3, H, W) in [-1, 1], H and W
        multiples of :attr:`size_multiple`."""
        return AniMoSourceFeatures(
            image=image,
            warping=self.warping_network.encode_source(image),
            editing=self.editing_network.encode_source(image),
        )

    def pose_code_and_flow(
        self, source: AniMoSourceFeatures, pose: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The first half of :meth:`animate`: the pose code z (N, latent_dim) and the flow
        (N, 2, H / downscale, W / downscale) that warps the source to ``pose`` (N, 20)."""
        z = self.motion_network(self.pose_mapping(pose))
        return z, self.warping_network(source.warping, z)

    def animate(self, source: AniMoSourceFeatures, pose: torch.Tensor) -> AniMoAnimation:
        """The per-frame step of the rotator. Args: source from :meth:`encode_source` or, with
        an expression morpher, from an :class:`AniMoSourceCache` called with ``pose`` (N, 20)."""
        z, flow = self.pose_code_and_flow(source, pose)
        image = self.editing_network(source.editing, flow, z, source=source.image)
        return AniMoAnimation(image=image, flow=flow)

    def frames_from_animation(
        self, animation: AniMoAnimation, alpha: torch.Tensor | None
    ) -> torch.Tensor:
        """(N, 3|4, H, W) frames in [0, 1]: the animated images and, for an RGBA source, its
        ``alpha`` (1, 1, H, W) warped by each frame's flow."""
        frames = (animation.image + 1) / 2
        if alpha is not None:
            warped_alpha = warp(alpha.expand(len(frames), -1, -1, -1), animation.flow)
            frames = torch.cat([frames, warped_alpha], dim=1)
        return frames.clamp(0, 1)

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
    @replace_example_docstring(EXAMPLE_DOC_STRING)
    def __call__(
        self,
        image: ImageInput,
        pose: PoseInput | None = None,
        blendshapes: BlendshapeInput | None = None,
        driving_video: FrameInput | None = None,
        num_random_poses: int | None = None,
        height: int | None = None,
        width: int | None = None,
        background: tuple[float, float, float] = (1.0, 1.0, 1.0),
        relative: bool = True,
        on_missing_face: Literal["error", "hold"] = "error",
        batch_size: int = 8,
        generator: torch.Generator | None = None,
        output_type: Literal["pil", "np", "pt"] = "pil",
        return_dict: bool = True,
    ) -> AniMoPipelineOutput | tuple:
        """The call function to the pipeline: animate ``image`` with exactly one of ``pose``,
        ``blendshapes``, ``driving_video`` or ``num_random_poses``.

        Args:
            image (`PIL.Image.Image`, `np.ndarray` or `torch.Tensor`):
                The source character, RGB or RGBA: PIL, numpy (H, W, 3|4) or tensor (3|4, H, W),
                uint8 or float in [0, 1]. Resized to (`height`, `width`).
            pose (`np.ndarray`, `torch.Tensor` or nested `list[float]`, *optional*):
                (N, 20) or (20,) AnimeCeleb pose vectors (see `animeceleb.pose`), float values.
            blendshapes (`HumanPoseSequence`, `dict` or `list[dict]`, *optional*):
                A [`HumanPoseSequence`] or one dict per frame of MediaPipe blendshape scores in
                [0, 1] and `yaw`/`pitch`/`roll` in degrees (see
                [`~animo_hf.motion_space.motion_from_blendshapes`]).
            driving_video (`str`, `os.PathLike`, an image or `list` of images, *optional*):
                Human frames: a video path, an image or a sequence of images, read with
                [`HumanPoseExtractor`].
            num_random_poses (`int`, *optional*):
                Draw this many poses with the AnimeCeleb sampler (seeded by `generator`).
            height (`int`, *optional*, defaults to `self.default_sample_size`):
                The height in pixels of the frames, a multiple of [`~AniMoPipeline.size_multiple`]
                (16 by default). The default is the size the weights were trained at.
            width (`int`, *optional*, defaults to `self.default_sample_size`):
                The width in pixels of the frames, a multiple of [`~AniMoPipeline.size_multiple`].
            background (`tuple[float, float, float]`, *optional*, defaults to `(1.0, 1.0, 1.0)`):
                RGB in [0, 1] under an RGBA source for the networks.
            relative (`bool`, *optional*, defaults to `True`):
                With `driving_video`, make the first frame with a face the neutral reference, so
                every pose is relative to it. A single-frame driving video (one image) then always
                gives the neutral pose: pass `relative=False` to use its absolute expression and
                head angles.
            on_missing_face (`str`, *optional*, defaults to `"error"`):
                With `driving_video`, a frame without a face raises (`"error"`) or holds the last
                pose (`"hold"`).
            batch_size (`int`, *optional*, defaults to 8):
                The number of frames animated per forward pass.
            generator (`torch.Generator`, *optional*):
                A [`torch.Generator`](https://pytorch.org/docs/stable/generated/torch.Generator.html)
                to make `num_random_poses` deterministic.
            output_type (`str`, *optional*, defaults to `"pil"`):
                The output format of the frames: `"pil"`, `"np"` or `"pt"`.
            return_dict (`bool`, *optional*, defaults to `True`):
                Whether to return an [`AniMoPipelineOutput`] instead of a plain tuple.

        Examples:

        Returns:
            [`AniMoPipelineOutput`] or `tuple`:
                If `return_dict` is `True`, an [`AniMoPipelineOutput`] is returned, otherwise a
                `tuple` `(frames, poses)`.
        """
        # 0. Default size: the one the weights were trained at
        height = height or self.default_sample_size
        width = width or self.default_sample_size

        # 1. Check inputs: a wrong argument fails before anything is read
        self.check_inputs(
            pose,
            blendshapes,
            driving_video,
            num_random_poses,
            height,
            width,
            batch_size,
            output_type,
        )

        # 2. The source first: a bad image fails before a video is read
        source, alpha = self.prepare_source(image, height, width, background)

        # 3. Driving poses, one (20,) vector a frame
        poses = self.prepare_poses(
            pose, blendshapes, driving_video, num_random_poses, generator, relative, on_missing_face
        )

        # 4. Encode the source: once, or once per distinct expression with an expression morpher
        sources = AniMoSourceCache(self, source)

        # 5. Animate in batches: the source with each frame's expression, then the head turns
        frames = []
        for start in self.progress_bar(range(0, len(poses), batch_size)):
            batch = poses[start : start + batch_size]
            animation = self.animate(sources(batch), batch)
            frames.append(self.frames_from_animation(animation, alpha))

        # 6. Convert
        output = self.postprocess(torch.cat(frames), output_type)
        poses = poses.float().cpu().numpy()

        # Offload all models
        self.maybe_free_model_hooks()

        if not return_dict:
            return output, poses
        return AniMoPipelineOutput(frames=output, poses=poses)


def pose_array(pose: PoseInput) -> np.ndarray:
    """``pose`` as an (N, 20) float array (a single (20,) vector is one frame)."""
    array = pose.detach().cpu().numpy() if isinstance(pose, torch.Tensor) else np.asarray(pose)
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"pose: expected float values, got dtype {array.dtype}")
    array = array[None] if array.ndim == 1 else array
    check_batch("pose", array, POSE_DIM)
    return array
