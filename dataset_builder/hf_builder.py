"""The AnimeCeleb ``datasets`` builder: per-model render shards -> Arrow tables cast to
``FEATURES``.

An ``ArrowBasedBuilder``: the shards are already in the ``FEATURES`` schema, so each shard is
read and cast as one table (no per-row decode and re-encode). It runs locally (the Hub no longer
runs dataset scripts); the publisher writes its output as Parquet in Hub layout, which
``load_dataset(folder or repo id)`` reads with no remote code.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
from datasets.builder import Key
from datasets.table import table_cast

from animeceleb.pose import POSE_DIM, POSE_NAMES

from .features import FEATURES
from .shards import shard_files_by_split

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


class AnimeCeleb(datasets.ArrowBasedBuilder):
    """Builds AnimeCeleb examples from a build folder's ``render/`` shards (``data_dir``)."""

    VERSION = datasets.Version("1.0.0")

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=DESCRIPTION, features=FEATURES, citation=CITATION, license="other"
        )

    def _split_generators(self, dl_manager) -> list[datasets.SplitGenerator]:
        if not self.config.data_dir:
            raise ValueError("AnimeCeleb needs data_dir: a build folder's render/ directory")
        by_split = shard_files_by_split(self.config.data_dir)
        if not any(by_split.values()):
            raise ValueError(f"{self.config.data_dir}: no rendered shards (*.parquet)")
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"shard_files": files})
            for split, files in by_split.items()
            if files
        ]

    def _generate_tables(self, shard_files: list[Path]) -> Iterator[tuple[Key, pa.Table]]:
        for index, path in enumerate(shard_files):
            yield Key(index, 0), table_cast(pq.read_table(path), FEATURES.arrow_schema)
