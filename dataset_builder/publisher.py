"""Write a build as a dataset repository in Hub layout, and push it with ``huggingface_hub``.

Layout: ``README.md`` (dataset card with YAML, ``resolution`` among it) +
``data/{split}-{i:05d}-of-{n:05d}.parquet`` + ``samples/`` (preview images). The folder is
written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
from huggingface_hub import HfApi

from .dataset_card import read_model_licences, write_card
from .files import replace_dir
from .hf_builder import AnimeCeleb
from .shards import shards_resolution

logger = logging.getLogger(__name__)
DEFAULT_MAX_SHARD_SIZE = "500MB"


def write_hub_folder(
    shards_dir: str | Path,
    hub_dir: str | Path,
    *,
    max_shard_size: str | int = DEFAULT_MAX_SHARD_SIZE,
    contact_sheet: bool = True,
) -> Path:
    """Prepare the dataset from the render shards in ``shards_dir`` (a build's ``render/``) and
    write it to ``hub_dir`` in Hub layout; the card records the images' resolution, read from
    the shards (``ValueError`` if they hold more than one size)."""
    hub_dir = Path(hub_dir)
    shard_files = sorted(Path(shards_dir).glob("*.parquet"))
    resolution = shards_resolution(shard_files)
    staging = Path(tempfile.mkdtemp(prefix=f".{hub_dir.name}.", dir=hub_dir.parent))
    try:
        builder = AnimeCeleb(data_dir=str(shards_dir), cache_dir=str(staging / ".cache"))
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
            from .contact_sheet import rows_from_shards

            (staging / "samples").mkdir()
            rows = rows_from_shards(shard_files)
            lay_out(rows).save(staging / "samples" / "contact_sheet.png")
        models = read_model_licences((staging / "data").glob("*.parquet"))
        write_card(
            staging / "README.md",
            split_sizes,
            dataset_info,
            models,
            contact_sheet,
            resolution=resolution,
        )
        replace_dir(staging, hub_dir)
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
