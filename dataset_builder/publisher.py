"""Write a build as a dataset repository in Hub layout, and push it with ``huggingface_hub``.

Layout: ``README.md`` (dataset card with YAML) + ``data/{split}-{i:05d}-of-{n:05d}.parquet`` +
``samples/`` (preview images). The folder is written under a temporary name and renamed when
complete.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
from huggingface_hub import DatasetCard, DatasetCardData, HfApi

from animeceleb.pose import POSE_NAMES, POSE_RANGES, TARGET_MORPH_NAMES
from animeceleb.sampling import GROUPS

from .files import write_atomic
from .hf_builder import CITATION, AnimeCeleb
from .styles import STYLES

logger = logging.getLogger(__name__)
DEFAULT_MAX_SHARD_SIZE = "500MB"
# Licence ids the Hub accepts in a card (a subset: those 3D model licences use). Anything else
# (VRM's unversioned "cc-by", a licence URL, mixed licences) is written as "other".
HUB_LICENSES = {
    "apache-2.0", "mit", "bsd-3-clause", "gpl-3.0", "cc0-1.0", "cc-by-2.0", "cc-by-2.5",
    "cc-by-3.0", "cc-by-4.0", "cc-by-sa-3.0", "cc-by-sa-4.0", "cc-by-nc-2.0", "cc-by-nc-3.0",
    "cc-by-nc-4.0", "cc-by-nd-4.0", "cc-by-nc-nd-3.0", "cc-by-nc-nd-4.0", "cc-by-nc-sa-2.0",
    "cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0", "odc-by", "odbl", "pddl",
}  # fmt: skip


def write_hub_folder(
    parts_dir: str | Path,
    hub_dir: str | Path,
    *,
    max_shard_size: str | int = DEFAULT_MAX_SHARD_SIZE,
    contact_sheet: bool = True,
) -> Path:
    """Prepare the dataset from ``parts_dir`` and write it to ``hub_dir`` in Hub layout."""
    hub_dir = Path(hub_dir)
    staging = Path(tempfile.mkdtemp(prefix=f".{hub_dir.name}.", dir=hub_dir.parent))
    try:
        builder = AnimeCeleb(data_dir=str(parts_dir), cache_dir=str(staging / ".cache"))
        prepared = staging / ".prepared"
        builder.download_and_prepare(
            output_dir=str(prepared), file_format="parquet", max_shard_size=max_shard_size
        )
        split_sizes = _move_shards(prepared, staging / "data")
        dataset_info = builder.info._to_yaml_dict()
        # The Parquet bytes: load_dataset keys its cache of a local folder on this YAML, so a
        # rebuilt folder must not describe itself exactly like the previous build.
        dataset_info["download_size"] = sum(
            p.stat().st_size for p in (staging / "data").glob("*.parquet")
        )
        shutil.rmtree(staging / ".cache", ignore_errors=True)
        shutil.rmtree(prepared)
        if contact_sheet:
            from .contact_sheet import contact_sheet as lay_out
            from .contact_sheet import rows_from_parts

            (staging / "samples").mkdir()
            rows = rows_from_parts(list(Path(parts_dir).glob("*.parquet")))
            lay_out(rows).save(staging / "samples" / "contact_sheet.png")
        licenses, attributions = _licenses(staging / "data")
        write_card(
            staging / "README.md", split_sizes, dataset_info, licenses, attributions, contact_sheet
        )
        _replace_dir(staging, hub_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("wrote %s: %s", hub_dir, split_sizes)
    return hub_dir


def _move_shards(prepared: Path, data_dir: Path) -> dict[str, int]:
    """Rename ``datasets``' shards to ``data/{split}-{i:05d}-of-{n:05d}.parquet``."""
    data_dir.mkdir(parents=True)
    sizes: dict[str, int] = {}
    for split in ("train", "test"):
        shards = sorted(prepared.glob(f"*-{split}.parquet")) + sorted(
            prepared.glob(f"*-{split}-*-of-*.parquet")
        )
        for i, shard in enumerate(shards):
            shard.rename(data_dir / f"{split}-{i:05d}-of-{len(shards):05d}.parquet")
        if shards:
            sizes[split] = sum(
                pq.ParquetFile(p).metadata.num_rows for p in data_dir.glob(f"{split}-*.parquet")
            )
    return sizes


def _licenses(data_dir: Path) -> tuple[list[str], list[str]]:
    table = pq.read_table(sorted(data_dir.glob("*.parquet")), columns=["license", "attribution"])
    licenses = sorted(set(table.column("license").to_pylist()))
    attributions = sorted(set(table.column("attribution").to_pylist()))
    return licenses, attributions


def _replace_dir(new: Path, target: Path) -> None:
    """Put ``new`` at ``target``, replacing an older folder only once ``new`` is complete."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < limit:
            return name
    return "100K<n<1M" if n < 1_000_000 else "1M<n<10M"


def write_card(
    path: Path,
    split_sizes: dict[str, int],
    dataset_info: dict,
    licenses: list[str],
    attributions: list[str],
    has_contact_sheet: bool,
) -> None:
    """The dataset card: YAML (configs, dataset_info with features and splits, licence, pose dims)
    and a description."""
    single = licenses[0] if len(licenses) == 1 and licenses[0] in HUB_LICENSES else None
    card_data = DatasetCardData(
        license=single or "other",
        license_name=None if single else "per-example-licences",
        pretty_name="AnimeCeleb-HF",
        task_categories=["image-to-image"],
        tags=["anime", "head-reenactment", "synthetic", "blender", "pose"],
        size_categories=[_size_category(sum(split_sizes.values()))],
        configs=[
            {
                "config_name": "default",
                "data_files": [
                    {"split": split, "path": f"data/{split}-*"} for split in split_sizes
                ],
            }
        ],
        dataset_info=dataset_info,
        pose_dims=list(POSE_NAMES),
        pose_ranges=[list(r) for r in POSE_RANGES],
        target_morphs=list(TARGET_MORPH_NAMES),
        styles=list(STYLES),
        groups=list(GROUPS),
    )
    dims = "\n".join(
        f"| {i} | `{name}` | [{low:g}, {high:g}] |"
        for i, (name, (low, high)) in enumerate(zip(POSE_NAMES, POSE_RANGES, strict=True))
    )
    splits = ", ".join(f"{split}: {n} images" for split, n in split_sizes.items())
    sheet = "![contact sheet](samples/contact_sheet.png)\n" if has_contact_sheet else ""
    credit = "\n".join(f"- {a}" for a in attributions)
    body = f"""
# AnimeCeleb-HF

Anime head images rendered in Blender from 3D character models, each with its 20-d pose vector,
built with the AnimeCeleb-HF dataset builder (a reimplementation of the AnimeCeleb data pipeline).

{sheet}
## Use

```python
from datasets import load_dataset

ds = load_dataset("path/or/repo-id", split="train")
example = ds[0]  # example["image"]: RGBA PIL image, example["pose"]: 20 floats
```

Splits are by identity (a stable hash of `model_id`): {splits}.

## Fields

- `image`: RGBA PNG, transparent background.
- `pose`: 20 float32 values (below). Left/right are the character's own (the character's left eye
  is on the image's right). yaw > 0 turns the face toward the image's right, pitch > 0 tilts it
  up, roll > 0 tilts the top of the head toward the image's right.
- `model_id`, `source` (procedural / vrm / gltf / blend / official), `style` ({", ".join(STYLES)}),
  `group` (basis: neutral; frontal: expression, angles 0; rotated: the same expression with random
  head angles, same `pair_id`), `license`, `attribution` (from the source model).

| dim | name | range |
|---|---|---|
{dims}

## Licence and attribution

Each example carries the licence and attribution of the 3D model it was rendered from. Images
rendered from these sources must keep that attribution:

{credit}

## Citation

```bibtex
{CITATION}
```
"""
    card = DatasetCard(f"---\n{card_data.to_yaml()}\n---\n{body}")
    write_atomic(path, str(card))


def push_to_hub(
    hub_dir: str | Path,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool = False,
    commit_message: str = "Upload AnimeCeleb-HF build",
) -> str:
    """Create the dataset repo if needed and upload ``hub_dir``; returns the commit URL."""
    hub_dir = Path(hub_dir)
    if not (hub_dir / "README.md").is_file() or not any((hub_dir / "data").glob("*.parquet")):
        raise FileNotFoundError(f"{hub_dir}: not a published folder (README.md + data/*.parquet)")
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    info = api.upload_folder(
        folder_path=str(hub_dir),
        repo_id=repo_id,
        repo_type="dataset",
        commit_message=commit_message,
    )
    return str(info)
