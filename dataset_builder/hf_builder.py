"""The AnimeCeleb ``datasets`` builder: per-model render parts -> examples with explicit Features.

It runs locally (the Hub no longer runs dataset scripts); the publisher writes its output as
Parquet in Hub layout, which ``load_dataset(folder or repo id)`` reads with no remote code.
"""

from __future__ import annotations

from pathlib import Path

import datasets
import pyarrow.parquet as pq

from animeceleb.pose import POSE_DIM, POSE_NAMES
from animeceleb.sampling import GROUPS, SPLITS, identity_split

from .styles import STYLE_NAMES

DESCRIPTION = (
    "AnimeCeleb-HF: anime head images rendered in Blender from 3D character models, each with its "
    f"{POSE_DIM}-d pose vector ({', '.join(POSE_NAMES)})."
)
CITATION = """@inproceedings{kim2022animeceleb,
  title={AnimeCeleb: Large-Scale Animation CelebHeads Dataset for Head Reenactment},
  author={Kim, Kangyeol and Park, Sunghyun and Lee, Jaeseong and Chung, Sunghyo
          and Lee, Junsoo and Choo, Jaegul},
  booktitle={European Conference on Computer Vision (ECCV)},
  year={2022}
}"""

FEATURES = datasets.Features(
    {
        "image": datasets.Image(),
        "pose": datasets.List(datasets.Value("float32"), length=POSE_DIM),
        "model_id": datasets.Value("string"),
        "source": datasets.Value("string"),
        "style": datasets.ClassLabel(names=list(STYLE_NAMES)),
        "group": datasets.ClassLabel(names=list(GROUPS)),
        "pair_id": datasets.Value("string"),
        "license": datasets.Value("string"),
        "attribution": datasets.Value("string"),
    }
)


def example_key(row: dict) -> str:
    """The deterministic key of one example: model, style, group and pair."""
    return f"{row['model_id']}/{row['style']}/{row['group']}/{row['pair_id']}"


def part_files_by_split(parts_dir: str | Path) -> dict[str, list[Path]]:
    """Rendered part files (one per model, ``<model_id>.parquet``) grouped by identity split."""
    by_split: dict[str, list[Path]] = {split: [] for split in SPLITS}
    for path in sorted(Path(parts_dir).glob("*.parquet")):
        by_split[identity_split(path.stem)].append(path)
    return by_split


class AnimeCeleb(datasets.GeneratorBasedBuilder):
    """Builds AnimeCeleb examples from a build folder's ``render/`` parts (``data_dir``)."""

    VERSION = datasets.Version("1.0.0")

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=DESCRIPTION, features=FEATURES, citation=CITATION, license="other"
        )

    def _split_generators(self, dl_manager) -> list[datasets.SplitGenerator]:
        if not self.config.data_dir:
            raise ValueError("AnimeCeleb needs data_dir: a build folder's render/ directory")
        by_split = part_files_by_split(self.config.data_dir)
        if not any(by_split.values()):
            raise ValueError(f"{self.config.data_dir}: no rendered part files (*.parquet)")
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"part_files": files})
            for split, files in by_split.items()
            if files
        ]

    def _generate_examples(self, part_files: list[Path]):
        for path in part_files:
            for row in pq.read_table(path).to_pylist():
                yield example_key(row), {**row, "image": {"bytes": row["image"], "path": None}}
