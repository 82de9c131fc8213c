"""Training pairs from an AnimeCeleb dataset: two images of the same character in the same style,
the source (the basis, or a frontal image) and the target (a frontal or rotated image) with its
pose vector. Images are decoded and augmented on the fly, deterministically per sample."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import datasets
import numpy as np
import PIL.Image
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, Sampler

from animeceleb.pose import POSE_DIM

from .config import TrainConfig

BACKGROUND = 1.0  # RGBA images are composited over white, as AniMoPipeline does by default
REQUIRED_COLUMNS = {
    "image": datasets.Image,
    "pose": (datasets.List, datasets.Sequence),
    "model_id": datasets.Value,
    "style": datasets.ClassLabel,
    "group": datasets.ClassLabel,
}


def load_train_split(dataset: str) -> datasets.Dataset:
    """The ``train`` split of ``dataset`` (a local Hub-layout folder or a repo id), with images
    left encoded; ``ValueError`` naming the dataset when it has no train split or lacks a column."""
    try:
        splits = datasets.load_dataset(dataset)
    except FileNotFoundError as error:
        raise ValueError(f"dataset {dataset!r}: not found ({error})") from None
    if "train" not in splits:
        raise ValueError(f"dataset {dataset!r}: no train split (splits: {sorted(splits)})")
    train = splits["train"]
    for column, kinds in REQUIRED_COLUMNS.items():
        if not isinstance(train.features.get(column), kinds):
            raise ValueError(
                f"dataset {dataset!r}: column {column!r} is {train.features.get(column)!r}; "
                "expected the AnimeCeleb schema (image, pose, model_id, style, group)"
            )
    return train.cast_column("image", datasets.Image(decode=False))


@dataclass(frozen=True)
class Pair:
    source: int  # row of the source image
    target: int  # row of the target image


def training_pairs(train: datasets.Dataset, config: TrainConfig) -> list[Pair]:
    """Every target image of the chosen groups and styles, with a source of the same character
    and style (chosen by a seeded draw when there are several); ``ValueError`` if there is none."""
    style_names = train.features["style"].names
    group_names = train.features["group"].names
    styles = set(config.styles or style_names)
    unknown = styles - set(style_names)
    if unknown:
        raise ValueError(f"config styles {sorted(unknown)}: not in the dataset ({style_names})")
    columns = train.select_columns(["model_id", "style", "group"]).to_dict()
    sources, targets = defaultdict(list), defaultdict(list)
    for row, (model_id, style, group) in enumerate(
        zip(columns["model_id"], columns["style"], columns["group"], strict=True)
    ):
        key = (model_id, style_names[style])
        if key[1] not in styles:
            continue
        if group_names[group] in config.source_groups:
            sources[key].append(row)
        if group_names[group] in config.target_groups:
            targets[key].append(row)
    rng = np.random.default_rng(config.seed)
    pairs = []
    for key in sorted(targets):
        for target in targets[key]:
            candidates = [s for s in sources.get(key, ()) if s != target]
            if candidates:
                pairs.append(Pair(int(candidates[rng.integers(len(candidates))]), target))
    if not pairs:
        raise ValueError(
            f"dataset {config.dataset!r}: no training pairs (source groups {config.source_groups}, "
            f"target groups {config.target_groups}, styles {sorted(styles)})"
        )
    return pairs


def decode_rgba(data: bytes, size: int) -> torch.Tensor:
    """PNG bytes -> (4, size, size) float32 RGBA in [0, 1] (resized with antialiasing)."""
    image = PIL.Image.open(io.BytesIO(data)).convert("RGBA")
    if image.size != (size, size):
        image = image.resize((size, size), PIL.Image.BILINEAR, reducing_gap=None)
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The same colour jitter and small scale/shift for every image of ``images`` (K, 4, H, W)
    RGBA: brightness, contrast and saturation x U(0.85, 1.15), scale U(0.95, 1.05), shift up to
    3% of the size (transparent where the image moves in from outside)."""
    factors = 0.85 + 0.3 * torch.rand(3, generator=generator)
    scale = 0.95 + 0.1 * torch.rand((), generator=generator)
    shift = (torch.rand(2, generator=generator) - 0.5) * 0.12
    rgb, alpha = images[:, :3], images[:, 3:]
    rgb = rgb * factors[0]
    mean = rgb.mean(dim=(1, 2, 3), keepdim=True)
    rgb = (rgb - mean) * factors[1] + mean
    grey = (rgb * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    rgb = ((rgb - grey) * factors[2] + grey).clamp(0, 1)
    theta = torch.tensor([[1 / scale, 0, shift[0]], [0, 1 / scale, shift[1]]]).expand(
        len(images), 2, 3
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(
        torch.cat([rgb, alpha], 1), grid, align_corners=False, padding_mode="zeros"
    )


def network_input(rgba: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(..., 4, H, W) RGBA in [0, 1] -> RGB over the white background in [-1, 1], and alpha."""
    rgb, alpha = rgba[..., :3, :, :], rgba[..., 3:, :, :]
    return (rgb * alpha + BACKGROUND * (1 - alpha)) * 2 - 1, alpha


class PairDataset(Dataset):
    """Items are ``(pair index, sample seed)`` keys from :class:`SeededPairSampler`; each gives
    source / target (3, H, W) in [-1, 1], their alphas (1, H, W) and the target pose (20,)."""

    def __init__(self, train: datasets.Dataset, pairs: list[Pair], config: TrainConfig) -> None:
        self.train = train
        self.pairs = pairs
        self.size = config.resolution
        self.augment = config.augment

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, torch.Tensor]:
        index, seed = key
        pair = self.pairs[index]
        source_row, target_row = self.train[pair.source], self.train[pair.target]
        images = torch.stack(
            [decode_rgba(row["image"]["bytes"], self.size) for row in (source_row, target_row)]
        )
        if self.augment:
            images = augment(images, torch.Generator().manual_seed(seed))
        rgb, alpha = network_input(images)
        pose = torch.tensor(target_row["pose"], dtype=torch.float32)
        if pose.shape != (POSE_DIM,):
            raise ValueError(f"row {pair.target}: pose has {tuple(pose.shape)} values, not 20")
        return {
            "source": rgb[0],
            "target": rgb[1],
            "source_alpha": alpha[0],
            "target_alpha": alpha[1],
            "pose": pose,
        }


class SeededPairSampler(Sampler):
    """An endless stream of ``(pair index, sample seed)``: epoch ``e`` is a permutation drawn from
    ``(seed, e)``, so the stream is the same in every run and a resumed run can skip to where it
    stopped."""

    def __init__(self, num_pairs: int, seed: int) -> None:
        self.num_pairs = num_pairs
        self.seed = seed

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = 0
        while True:
            order = torch.randperm(
                self.num_pairs, generator=torch.Generator().manual_seed(self.seed + 7919 * epoch)
            )
            for position, index in enumerate(order.tolist()):
                yield index, (self.seed * 1_000_003 + epoch * self.num_pairs + position) % 2**63
            epoch += 1
