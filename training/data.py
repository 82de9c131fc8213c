"""Samples from an AnimeCeleb dataset, decoded and augmented on the fly, deterministically per
sample. AniMo trains on pairs: two images of the same character in the same style, the source (the
basis, or a frontal image) and the target (a frontal or rotated image) with its pose vector. The
pose regressor trains on single images with their pose."""

from __future__ import annotations

import io
import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
import PIL.Image
import torch
import torch.nn.functional as F
from huggingface_hub import DatasetCard
from huggingface_hub.errors import HfHubHTTPError
from torch.utils.data import DataLoader, Dataset, Sampler

from animeceleb.pose import POSE_DIM

from .configuration import DataConfig

BACKGROUND = 1.0  # RGBA images are composited over white, as AniMoPipeline does by default
REQUIRED_COLUMNS = {
    "image": datasets.Image,
    "pose": (datasets.List, datasets.Sequence),
    "model_id": datasets.Value,
    "style": datasets.ClassLabel,
    "group": datasets.ClassLabel,
}
_GREY = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)  # the luma of the saturation jitter
_LUMA = torch.tensor([[0.213, 0.715, 0.072]] * 3)  # the luma the hue rotation keeps
_HUE_COS = torch.eye(3) - _LUMA
_HUE_SIN = torch.tensor([[-0.213, -0.715, 0.928], [0.143, 0.140, -0.283], [-0.787, 0.715, 0.072]])


def dataset_names(dataset: str | Sequence[str]) -> str:
    """One dataset's name, or several as "a, b and c" (for logs and cards)."""
    if isinstance(dataset, str):
        return dataset
    *rest, last = dataset
    return f"{', '.join(rest)} and {last}" if rest else last


def load_split(dataset: str | Sequence[str], split: str = "train") -> datasets.Dataset:
    """Split ``split`` of ``dataset`` (a local Hub-layout folder or a repo id, or several: their
    splits concatenated in order) with images left encoded; ``ValueError`` naming the dataset
    when it or the split is missing, it lacks an AnimeCeleb column, or its features differ from
    the first one's."""
    if not isinstance(dataset, str):
        parts = [load_split(name, split) for name in dataset]
        for name, rows in zip(dataset[1:], parts[1:], strict=True):
            if rows.features != parts[0].features:
                raise ValueError(
                    f"dataset {name!r}: its features differ from {dataset[0]!r}'s "
                    f"({rows.features} vs {parts[0].features}); expected the same schema, "
                    "styles and groups"
                )
        return datasets.concatenate_datasets(parts)
    try:
        splits = datasets.load_dataset(dataset)
    except FileNotFoundError as error:
        raise ValueError(f"dataset {dataset!r}: not found ({error})") from None
    if split not in splits:
        raise ValueError(f"dataset {dataset!r}: no {split} split (splits: {sorted(splits)})")
    rows = splits[split]
    for column, kinds in REQUIRED_COLUMNS.items():
        if not isinstance(rows.features.get(column), kinds):
            raise ValueError(
                f"dataset {dataset!r}: column {column!r} is {rows.features.get(column)!r}; "
                "expected the AnimeCeleb schema (image, pose, model_id, style, group)"
            )
    return rows.cast_column("image", datasets.Image(decode=False))


def recorded_resolution(dataset: str) -> int | None:
    """The image size in pixels that ``dataset``'s build recorded in its card's YAML
    (``resolution``); ``None`` when the card does not say (a build from before it did)."""
    try:
        card = DatasetCard.load(Path(dataset) / "README.md" if Path(dataset).is_dir() else dataset)
    except (OSError, ValueError, HfHubHTTPError):
        return None
    value = card.data.to_dict().get("resolution")
    return value if isinstance(value, int) else None


def run_resolution(data: DataConfig, rows: datasets.Dataset) -> int:
    """The image size a run trains at: ``data.resolution``, or the dataset's (its card's
    ``resolution``, else its first image's side). ``ValueError`` in one line when
    ``data.resolution`` differs from the dataset's and ``data.resize`` is not set."""
    found = {recorded_resolution(name) for name in data.names} - {None}
    if not found:
        with PIL.Image.open(io.BytesIO(rows[0]["image"]["bytes"])) as first:
            found = {first.width}
    if len(found) > 1:
        raise ValueError(f"datasets {list(data.names)}: images of several sizes {sorted(found)}")
    (recorded,) = found
    if data.resolution is None or data.resolution == recorded:
        return recorded
    if not data.resize:
        raise ValueError(
            f"config data.resolution = {data.resolution}: the dataset "
            f"{dataset_names(data.dataset)!r} is {recorded}x{recorded}; expected "
            f"{recorded}, or data.resize: true to resize its images"
        )
    return data.resolution


def data_summary(rows: datasets.Dataset, data: DataConfig) -> tuple[str, str]:
    """What a run trains on, in words (the datasets, images, characters and styles), and the
    licences of its characters."""
    models = rows.select_columns(["model_id", "license"]).to_pandas().drop_duplicates()
    styles = data.styles or rows.features["style"].names
    splits = "split" if isinstance(data.dataset, str) else "splits"
    summary = (
        f"the train {splits} of {dataset_names(data.dataset)}: {len(rows):,} images of "
        f"{len(models)} characters in the styles {', '.join(styles)}"
    )
    return summary, ", ".join(sorted(models["license"].unique()))


def chosen_styles(rows: datasets.Dataset, styles: Sequence[str] | None) -> set[str]:
    """``styles`` (``None``: every style of ``rows``); ``ValueError`` for one not in the data."""
    names = rows.features["style"].names
    wanted = set(styles or names)
    unknown = wanted - set(names)
    if unknown:
        raise ValueError(f"styles {sorted(unknown)}: not in the dataset ({names})")
    return wanted


@dataclass(frozen=True)
class Pair:
    source: int  # row of the source image
    target: int  # row of the target image


def training_pairs(
    train: datasets.Dataset,
    data: DataConfig,
    source_groups: Sequence[str],
    target_groups: Sequence[str],
    seed: int,
    same_pair: bool = False,
) -> list[Pair]:
    """Every target image of ``target_groups`` and ``data.styles``, with a source of
    ``source_groups`` of the same character and style (chosen by a draw seeded by ``seed`` when
    there are several), with ``same_pair`` of its ``pair_id`` too (the frontal image of a
    rotated target: the same expression, only the head moves); ``ValueError`` if there is
    none."""
    style_names = train.features["style"].names
    group_names = train.features["group"].names
    styles = chosen_styles(train, data.styles)
    names = ["model_id", "style", "group"] + (["pair_id"] if same_pair else [])
    columns = train.select_columns(names).to_dict()
    pair_ids = columns.get("pair_id")
    sources, targets = defaultdict(list), defaultdict(list)
    for row, (model_id, style, group) in enumerate(
        zip(columns["model_id"], columns["style"], columns["group"], strict=True)
    ):
        key = (model_id, style_names[style])
        if key[1] not in styles:
            continue
        if group_names[group] in source_groups:
            sources[key].append(row)
        if group_names[group] in target_groups:
            targets[key].append(row)
    rng = np.random.default_rng(seed)
    pairs = []
    for key in sorted(targets):
        for target in targets[key]:
            candidates = [
                s
                for s in sources.get(key, ())
                if s != target and (pair_ids is None or pair_ids[s] == pair_ids[target])
            ]
            if candidates:
                pairs.append(Pair(int(candidates[rng.integers(len(candidates))]), target))
    if not pairs:
        raise ValueError(
            f"dataset {dataset_names(data.dataset)!r}: no training pairs (source groups "
            f"{tuple(source_groups)}, target groups {tuple(target_groups)}, "
            f"styles {sorted(styles)}{', the same pair_id' if same_pair else ''})"
        )
    return pairs


def select_rows(
    rows: datasets.Dataset, styles: Sequence[str] | None, groups: Sequence[str]
) -> list[int]:
    """The rows of the given styles (``None``: all) and groups; ``ValueError`` for an unknown
    style or when none is left."""
    style_names = rows.features["style"].names
    group_names = rows.features["group"].names
    wanted_styles = chosen_styles(rows, styles)
    columns = rows.select_columns(["style", "group"]).to_dict()
    selected = [
        i
        for i, (style, group) in enumerate(zip(columns["style"], columns["group"], strict=True))
        if style_names[style] in wanted_styles and group_names[group] in groups
    ]
    if not selected:
        raise ValueError(
            f"no images of styles {sorted(wanted_styles)} in groups {list(groups)} "
            f"among {len(rows)} rows"
        )
    return selected


def decode_rgba(data: bytes, size: int) -> torch.Tensor:
    """PNG bytes -> (4, size, size) float32 RGBA in [0, 1], resized when the image has another
    size (the caller chose to: :func:`run_resolution`)."""
    image = PIL.Image.open(io.BytesIO(data)).convert("RGBA")
    if image.size != (size, size):
        image = image.resize((size, size), PIL.Image.BILINEAR, reducing_gap=None)
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)


def colour_jitter(
    images: torch.Tensor, generator: torch.Generator, strength: float = 0.15, hue: float = 0.0
) -> torch.Tensor:
    """The same colour jitter for every image of ``images`` (..., 4, H, W) RGBA in [0, 1] (no
    geometric change; alpha kept): a hue rotation by U(-hue, hue) turns (drawn only when ``hue``
    is not 0), then brightness, contrast and saturation x U(1 - strength, 1 + strength)."""
    factors = (1 - strength) + 2 * strength * torch.rand(3, generator=generator)
    rgb, alpha = images[..., :3, :, :], images[..., 3:, :, :]
    if hue:
        angle = float(2 * math.pi * hue * (2 * torch.rand((), generator=generator) - 1))
        rgb = torch.einsum("ij,...jhw->...ihw", _hue_matrix(angle), rgb)
    rgb = rgb * factors[0]
    mean = rgb.mean(dim=(-3, -2, -1), keepdim=True)
    rgb = (rgb - mean) * factors[1] + mean
    grey = (rgb * _GREY).sum(-3, keepdim=True)
    rgb = ((rgb - grey) * factors[2] + grey).clamp(0, 1)
    return torch.cat([rgb, alpha], -3)


def _hue_matrix(angle: float) -> torch.Tensor:
    """The luminance-preserving hue rotation by ``angle`` radians (the CSS ``hue-rotate``)."""
    return _LUMA + math.cos(angle) * _HUE_COS + math.sin(angle) * _HUE_SIN


def scale_shift(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The same small scale U(0.95, 1.05) and shift (up to 3% of the size) for every image of
    ``images`` (K, C, H, W); zeros (transparent) where the image moves in from outside."""
    scale = 0.95 + 0.1 * torch.rand((), generator=generator)
    shift = (torch.rand(2, generator=generator) - 0.5) * 0.12
    theta = torch.tensor([[1 / scale, 0, shift[0]], [0, 1 / scale, shift[1]]]).expand(
        len(images), 2, 3
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, align_corners=False, padding_mode="zeros")


def integer_shift(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The same shift by whole pixels (up to 3% of the size each way) for every image of
    ``images`` (K, C, H, W); zeros (transparent) where the image moves in from outside. No pixel
    is resampled: the images keep all their detail."""
    height, width = images.shape[-2:]
    reach = torch.tensor([height, width]) * 0.03
    dy, dx = ((torch.rand(2, generator=generator) * 2 - 1) * reach).round().int().tolist()
    moved = torch.zeros_like(images)
    rows_to, rows_from = _span(dy, height)
    cols_to, cols_from = _span(dx, width)
    moved[..., rows_to, cols_to] = images[..., rows_from, cols_from]
    return moved


def _span(shift: int, size: int) -> tuple[slice, slice]:
    """Where a shift by ``shift`` pixels along an axis of ``size`` writes, and what it reads."""
    return slice(max(shift, 0), size + min(shift, 0)), slice(max(-shift, 0), size - max(shift, 0))


def augment(
    images: torch.Tensor, generator: torch.Generator, resampling: str = "bilinear"
) -> torch.Tensor:
    """AniMo's augmentation of a pair: :func:`colour_jitter` (strength 0.15, no hue), then the
    same move of every image of ``images`` (K, 4, H, W) RGBA: :func:`scale_shift` (``bilinear``)
    or :func:`integer_shift` (``integer``)."""
    jittered = colour_jitter(images, generator)
    if resampling == "integer":
        return integer_shift(jittered, generator)
    return scale_shift(jittered, generator)


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch ops on one thread: per-item data ops are too small to gain from a thread pool,
    and on a busy CPU waiting for the pool's second thread made them 100x slower (data-loader
    workers are single-threaded already)."""
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def network_input(rgba: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(..., 4, H, W) RGBA in [0, 1] -> RGB over the white background in [-1, 1], and alpha."""
    rgb, alpha = rgba[..., :3, :, :], rgba[..., 3:, :, :]
    return (rgb * alpha + BACKGROUND * (1 - alpha)) * 2 - 1, alpha


def image_array(image: torch.Tensor) -> np.ndarray:
    """A network image (C, H, W) in [-1, 1] as a (H, W, C) uint8 array (:func:`network_input`
    undone, clamped), for PNGs."""
    array = ((image.float().cpu().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0)
    return np.ascontiguousarray(array.numpy())


def row_pose(row: dict, index: int) -> torch.Tensor:
    """The (20,) float32 pose of dataset row ``row`` (number ``index``); ``ValueError`` naming the
    row when it has another length."""
    pose = torch.tensor(row["pose"], dtype=torch.float32)
    if pose.shape != (POSE_DIM,):
        raise ValueError(f"row {index}: pose has {tuple(pose.shape)} values, not {POSE_DIM}")
    return pose


class SeededItems(Dataset):
    """A dataset keyed by ``(index, sample seed)`` (:class:`SeededPairSampler` streams the keys):
    :meth:`item` builds the sample, a pure function of the key, on one thread
    (:func:`single_thread`)."""

    def __getitem__(self, key: tuple[int, int]) -> dict[str, torch.Tensor]:
        with single_thread():
            return self.item(*key)

    def item(self, index: int, seed: int) -> dict[str, torch.Tensor]:
        raise NotImplementedError


class PairDataset(SeededItems):
    """Items are ``(pair index, sample seed)`` keys; each gives source / target (3, H, W) in
    [-1, 1], their alphas (1, H, W) and the target pose (20,)."""

    def __init__(
        self,
        train: datasets.Dataset,
        pairs: list[Pair],
        resolution: int,
        augment: bool,
        resampling: str = "bilinear",
    ) -> None:
        """``augment``: :func:`augment` each pair, moving it as ``resampling`` says."""
        self.train = train
        self.pairs = pairs
        self.size = resolution
        self.augment = augment
        self.resampling = resampling

    def __len__(self) -> int:
        return len(self.pairs)

    def item(self, index: int, seed: int) -> dict[str, torch.Tensor]:
        pair = self.pairs[index]
        source_row, target_row = self.train[pair.source], self.train[pair.target]
        images = torch.stack(
            [decode_rgba(row["image"]["bytes"], self.size) for row in (source_row, target_row)]
        )
        if self.augment:
            images = augment(images, torch.Generator().manual_seed(seed), self.resampling)
        rgb, alpha = network_input(images)
        return {
            "source": rgb[0],
            "target": rgb[1],
            "source_alpha": alpha[0],
            "target_alpha": alpha[1],
            "pose": row_pose(target_row, pair.target),
        }


class PoseImageDataset(SeededItems):
    """Items are ``(index, sample seed)`` keys; each gives ``image`` (3, H, W) RGB over white in
    [-1, 1] and ``pose`` (20,) in pose units. The colour jitter (:func:`colour_jitter`; no
    geometric change, which would change the angle labels) is a pure function of the seed."""

    def __init__(
        self,
        rows: datasets.Dataset,
        indices: Sequence[int],
        resolution: int,
        color_jitter: float = 0.0,
        hue_jitter: float = 0.0,
    ) -> None:
        self.rows = rows
        self.indices = list(indices)
        self.size = resolution
        self.color_jitter = color_jitter
        self.hue_jitter = hue_jitter

    def __len__(self) -> int:
        return len(self.indices)

    def item(self, index: int, seed: int) -> dict[str, torch.Tensor]:
        row = self.rows[self.indices[index]]
        rgba = decode_rgba(row["image"]["bytes"], self.size)
        if self.color_jitter or self.hue_jitter:
            generator = torch.Generator().manual_seed(seed)
            rgba = colour_jitter(rgba, generator, self.color_jitter, self.hue_jitter)
        image, _ = network_input(rgba)
        return {"image": image, "pose": row_pose(row, self.indices[index])}


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


def seeded_loader(dataset: Dataset, data: DataConfig, seed: int) -> DataLoader:
    """The training stream of ``dataset``: batches of ``data.batch_size`` items in the order of
    :class:`SeededPairSampler` (seeded by ``seed``), decoded by ``data.num_workers``."""
    return DataLoader(
        dataset,
        batch_size=data.batch_size,
        sampler=SeededPairSampler(len(dataset), seed),
        num_workers=data.num_workers,
        drop_last=True,
    )
