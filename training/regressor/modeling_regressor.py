"""The pose regressor: a small ResNet (``transformers``, trained from scratch) that reads the 20-d
AnimeCeleb pose vector back from an image. Evaluation uses it for the head-angle and expression
error of generated frames.

The model is a plain ``transformers.ResNetForImageClassification`` with ``num_labels=20`` and
``problem_type="regression"``; ``save_pretrained`` writes a standard folder (``config.json`` and
``model.safetensors``, no remote code). Its 20 outputs are the pose in normalised units: the
expressions as they are (``[0, 1]``), the angles divided by 20 (``[-1, 1]``). The config carries
everything needed to map them back without outside knowledge:

- ``id2label``: the pose names (``animeceleb.pose.POSE_NAMES``);
- ``pose_scale`` (20 floats): pose = output * scale (1 for expressions, 20 for angles);
- ``pose_range`` (20 ``[low, high]``): the range of each dim in the data (predictions are clamped
  to it by default);
- ``image_size``: the model's input size (its run's ``data.resolution``); other sizes are resized
  to it.

Input images are what the AniMo trainer feeds its networks (``training.data.network_input``):
(N, 3, H, W) RGB composited over white, in ``[-1, 1]``. Its run config is
:mod:`training.regressor.configuration_regressor`, its trainer :mod:`training.regressor.train`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from transformers import ResNetConfig, ResNetForImageClassification

from animeceleb.pose import POSE_DIM, POSE_NAMES, POSE_RANGES, POSE_SCALE

from .configuration_regressor import RegressorArchitecture

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
DEFAULT_IMAGE_SIZE = 128
_REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


def regressor_config(
    *,
    embedding_size: int = RegressorArchitecture.embedding_size,
    hidden_sizes: Sequence[int] = RegressorArchitecture.hidden_sizes,
    depths: Sequence[int] = RegressorArchitecture.depths,
    layer_type: str = RegressorArchitecture.layer_type,
    image_size: int = DEFAULT_IMAGE_SIZE,
) -> ResNetConfig:
    """The ``ResNetConfig`` of a pose regressor: the given architecture (the defaults of
    :class:`RegressorArchitecture`, the ``model`` section of a run's config), 20 regression
    outputs named after the pose dims, and the pose scale, range and image size as config
    attributes."""
    return ResNetConfig(
        num_channels=3,
        embedding_size=int(embedding_size),
        hidden_sizes=[int(h) for h in hidden_sizes],
        depths=[int(d) for d in depths],
        layer_type=layer_type,
        problem_type="regression",
        id2label=dict(enumerate(POSE_NAMES)),
        label2id={name: i for i, name in enumerate(POSE_NAMES)},
        pose_scale=list(POSE_SCALE),
        pose_range=[list(r) for r in POSE_RANGES],
        image_size=int(image_size),
    )


def build_regressor(*, seed: int | None = 0, **architecture: Any) -> ResNetForImageClassification:
    """A freshly initialised pose regressor of :func:`regressor_config` (``architecture``: its
    keyword arguments), ``torch.manual_seed(seed)`` first unless ``seed`` is None, so runs are
    repeatable.

    The default is a ResNet-10-like net at half width: stem 7x7/2 conv (32 channels) + max pool,
    four stages of one basic block (32, 64, 128, 256 channels, strides 1, 2, 2, 2), global
    average pool and a linear head 256 -> 20; 1,235,380 parameters. At 128² it maps
    (N, 3, 128, 128) to (N, 20) logits through a 4 x 4 final feature map.
    """
    config = regressor_config(**architecture)
    if seed is not None:
        torch.manual_seed(seed)
    return ResNetForImageClassification(config)


def pose_scale(model: ResNetForImageClassification) -> torch.Tensor:
    """(20,) float32 on the model's device: pose = normalised output * scale."""
    return torch.tensor(model.config.pose_scale, dtype=torch.float32, device=model.device)


def normalize_poses(poses: torch.Tensor, model: ResNetForImageClassification) -> torch.Tensor:
    """(N, 20) poses in pose units -> the regressor's normalised targets (angles / 20)."""
    return poses / pose_scale(model).to(poses.device)


def resize_for_regressor(images: torch.Tensor, size: int) -> torch.Tensor:
    """(N, 3, H, W) images resized (bilinear, antialiased) to the regressor's ``size``² unless
    they already are."""
    if images.shape[-2:] == (size, size):
        return images
    return F.interpolate(images, (size, size), mode="bilinear", antialias=True, align_corners=False)


def predict_poses(
    model: ResNetForImageClassification,
    images: torch.Tensor,
    *,
    batch_size: int = 64,
    clamp: bool = True,
) -> torch.Tensor:
    """Read the pose from ``images``.

    Args:
        model: a pose regressor (:func:`build_regressor`, :func:`load_regressor`).
        images: (N, 3, H, W) float RGB over white in ``[-1, 1]`` (``training.data.network_input``);
            resized (bilinear, antialiased) to the model's ``image_size`` when H or W differ.
        batch_size: images per forward pass.
        clamp: clamp each dim to its range in the data (``config.pose_range``: expressions
            ``[0, 1]``, angles ``[-20, 20]``).

    Returns:
        (N, 20) float32 on ``images``' device, in pose units: expressions in ``[0, 1]`` units,
        yaw / pitch / roll in degrees. Runs in eval mode without gradients; the model's
        train/eval mode is restored afterwards.
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images)
        raise ValueError(f"images: expected a (N, 3, H, W) tensor, got {shape}")
    if not images.is_floating_point():
        raise ValueError(f"images: expected floats in [-1, 1], got dtype {images.dtype}")
    if batch_size < 1:
        raise ValueError(f"batch_size = {batch_size}: expected a positive integer")
    size = int(model.config.image_size)
    scale = pose_scale(model)
    bounds = torch.tensor(model.config.pose_range, dtype=torch.float32, device=model.device)
    was_training = model.training
    model.eval()
    outputs = []
    try:
        with torch.no_grad():
            for chunk in images.split(batch_size):
                chunk = resize_for_regressor(chunk.to(model.device, model.dtype), size)
                pose = model(pixel_values=chunk).logits.float() * scale
                if clamp:
                    pose = pose.clamp(bounds[:, 0], bounds[:, 1])
                outputs.append(pose)
    finally:
        model.train(was_training)
    if not outputs:
        return torch.zeros(0, POSE_DIM, device=images.device)
    return torch.cat(outputs).to(images.device)


def load_regressor(
    path: str | Path, *, device: str | torch.device | None = None
) -> ResNetForImageClassification:
    """A pose regressor from a folder written by ``save_pretrained`` (or a Hub repo id, read
    through the local cache when offline), in eval mode.

    Raises ``FileNotFoundError`` naming the folder or the missing ``config.json`` /
    ``model.safetensors`` (safetensors only: no pickled weights), and ``ValueError`` naming the
    file when the config is not a 20-output pose regressor or the weights do not fit it.
    """
    folder = _resolve(path)
    config_file, weights_file = folder / CONFIG_NAME, folder / WEIGHTS_NAME
    if not config_file.is_file():
        raise FileNotFoundError(f"{config_file}: missing; not a pose regressor folder")
    if not weights_file.is_file():
        raise FileNotFoundError(f"{weights_file}: missing (the regressor is read from safetensors)")
    try:
        raw = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{config_file}: not a readable JSON config ({error})") from None
    _check_config(raw, config_file)
    try:
        model, info = ResNetForImageClassification.from_pretrained(
            folder, use_safetensors=True, local_files_only=True, output_loading_info=True
        )
    except (RuntimeError, OSError, ValueError) as error:
        raise ValueError(f"{weights_file}: does not fit {config_file} ({error})") from None
    wrong = {k: sorted(v) for k, v in info.items() if v and k != "error_msgs"}
    if wrong or info.get("error_msgs"):
        raise ValueError(f"{weights_file}: does not fit {config_file} ({wrong or info})")
    if device is not None:
        model.to(device)
    return model.eval()


def _resolve(path: str | Path) -> Path:
    folder = Path(path)
    if folder.is_dir():
        return folder
    if folder.exists():
        raise FileNotFoundError(f"{folder}: not a folder (expected a pose regressor folder)")
    if not _REPO_ID.match(str(path)):
        raise FileNotFoundError(f"{folder}: no such pose regressor folder")
    from huggingface_hub import snapshot_download

    try:
        return Path(
            snapshot_download(str(path), allow_patterns=[CONFIG_NAME, WEIGHTS_NAME, "README.md"])
        )
    except Exception as error:  # offline, unknown repo, no access: all mean "not found"
        raise FileNotFoundError(
            f"{path}: no such pose regressor folder, and not readable as a Hub repo "
            f"({type(error).__name__}: {error})"
        ) from None


def _check_config(raw: dict, config_file: Path) -> None:
    if raw.get("model_type") != "resnet":
        raise ValueError(f"{config_file}: model_type {raw.get('model_type')!r}, not 'resnet'")
    num_labels = len(raw.get("id2label") or {})
    if num_labels != POSE_DIM:
        raise ValueError(f"{config_file}: {num_labels} labels; a pose regressor has {POSE_DIM}")
    labels = [raw["id2label"].get(str(i)) for i in range(POSE_DIM)]
    if labels != list(POSE_NAMES):
        raise ValueError(f"{config_file}: id2label {labels} are not the pose names {POSE_NAMES}")
    if raw.get("problem_type") != "regression":
        raise ValueError(f"{config_file}: problem_type {raw.get('problem_type')!r}, not regression")
    scale = raw.get("pose_scale")
    if not _numbers(scale, POSE_DIM) or not all(s > 0 for s in scale):
        raise ValueError(f"{config_file}: pose_scale {scale!r}: expected 20 positive numbers")
    bounds = raw.get("pose_range")
    if (
        not isinstance(bounds, list)
        or len(bounds) != POSE_DIM
        or not all(_numbers(b, 2) and b[0] < b[1] for b in bounds)
    ):
        raise ValueError(f"{config_file}: pose_range {bounds!r}: expected 20 [low, high] pairs")
    size = raw.get("image_size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 16:
        raise ValueError(f"{config_file}: image_size {size!r}: expected an integer >= 16")


def _numbers(value: object, length: int) -> bool:
    return (
        isinstance(value, list)
        and len(value) == length
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )
