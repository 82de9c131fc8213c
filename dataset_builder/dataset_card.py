"""The dataset card (``README.md`` of a Hub folder), rendered from ``templates/dataset_card.md``.

The YAML comes from a :class:`huggingface_hub.DatasetCardData`; the body is a Jinja template
rendered with :meth:`huggingface_hub.DatasetCard.from_template`. Attributions are grouped: one
line for all procedural characters, one line per third-party model.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from huggingface_hub import DatasetCard, DatasetCardData

from animeceleb.pose import POSE_NAMES, POSE_RANGES, TARGET_MORPH_NAMES
from animeceleb.sampling import GROUPS

from .files import write_atomic
from .hf_builder import CITATION
from .sources import ORIGINAL_RELEASE, SOURCE_KINDS, UNKNOWN_LICENSE
from .styles import STYLES

logger = logging.getLogger(__name__)
TEMPLATE_PATH = Path(__file__).with_name("templates") / "dataset_card.md"
# Licence ids the Hub accepts in a card (a subset: those 3D model licences use). Anything else
# (VRM's unversioned "cc-by", a licence URL, mixed licences, "unknown") is written as "other".
HUB_LICENSES = {
    "apache-2.0", "mit", "bsd-3-clause", "gpl-3.0", "cc0-1.0", "cc-by-2.0", "cc-by-2.5",
    "cc-by-3.0", "cc-by-4.0", "cc-by-sa-3.0", "cc-by-sa-4.0", "cc-by-nc-2.0", "cc-by-nc-3.0",
    "cc-by-nc-4.0", "cc-by-nd-4.0", "cc-by-nc-nd-3.0", "cc-by-nc-nd-4.0", "cc-by-nc-sa-2.0",
    "cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0", "odc-by", "odbl", "pddl",
}  # fmt: skip
OTHER_LICENSE_NAME = "per-example-licences"
PROCEDURAL = "procedural"


@dataclass(frozen=True)
class ModelLicence:
    """The licence and attribution of one source model, as its examples carry them."""

    model_id: str
    source: str
    license: str
    attribution: str


def read_model_licences(parquet_files: Iterable[str | os.PathLike]) -> list[ModelLicence]:
    """One :class:`ModelLicence` per model found in ``parquet_files`` (reads four columns only)."""
    files = sorted(str(p) for p in parquet_files)
    if not files:
        return []
    columns = ["model_id", "source", "license", "attribution"]
    table = pq.read_table(files, columns=columns).group_by(columns).aggregate([])
    rows = zip(*(table.column(name).to_pylist() for name in columns), strict=True)
    return sorted({ModelLicence(*row) for row in rows}, key=lambda m: m.model_id)


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < limit:
            return name
    return "100K<n<1M" if n < 1_000_000 else "1M<n<10M"


def card_license(models: Sequence[ModelLicence]) -> str | None:
    """The Hub licence id of a build with ``models``, or None when it must be ``other``: mixed
    licences, or one the Hub does not know (VRM's "cc-by", a URL, "unknown")."""
    unknown = sorted(m.model_id for m in models if m.license == UNKNOWN_LICENSE)
    if unknown:
        logger.warning(
            "%d model(s) with an unknown licence, written as 'other' in the card: %s",
            len(unknown),
            ", ".join(unknown),
        )
    licenses = {m.license for m in models}
    if len(licenses) == 1 and (single := licenses.pop()) in HUB_LICENSES:
        return single
    return None


def attribution_lines(models: Sequence[ModelLicence]) -> list[str]:
    """One line per procedural licence (all procedural characters together), then one line per
    third-party model, sorted."""
    procedural: dict[str, int] = {}
    third_party: set[str] = set()
    for m in models:
        if m.source == PROCEDURAL:
            procedural[m.license] = procedural.get(m.license, 0) + 1
        else:
            line = f"{m.attribution} (`{m.model_id}`, {m.source}, licence: {m.license})"
            third_party.add(" ".join(line.split()))  # one Markdown list item
    lines = [
        f"AnimeCeleb-HF procedural characters ({n} model{'s' * (n != 1)}, {license})"
        for license, n in sorted(procedural.items())
    ]
    return lines + sorted(third_party)


def model_kinds(models: Sequence[ModelLicence]) -> str:
    """How many models of each source kind, e.g. "91 procedural, 1 vrm"."""
    counts = Counter(model.source for model in models)
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "none"


def dataset_card(
    split_sizes: Mapping[str, int],
    dataset_info: dict,
    models: Sequence[ModelLicence],
    has_contact_sheet: bool,
    *,
    resolution: int,
) -> DatasetCard:
    """The dataset card: YAML (configs, dataset_info with features and splits, licence, pose
    dims, ``resolution``: the side of the square images in pixels) and a description rendered
    from ``templates/dataset_card.md``."""
    single = card_license(models)
    card_data = DatasetCardData(
        license=single or "other",
        license_name=None if single else OTHER_LICENSE_NAME,
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
        resolution=resolution,
        pose_dims=list(POSE_NAMES),
        pose_ranges=[list(r) for r in POSE_RANGES],
        target_morphs=list(TARGET_MORPH_NAMES),
        styles=list(STYLES),
        groups=list(GROUPS),
    )
    values = {
        "split_sizes": dict(split_sizes),
        "has_contact_sheet": has_contact_sheet,
        "pose_dims": [
            (i, name, f"{low:g}", f"{high:g}")
            for i, (name, (low, high)) in enumerate(zip(POSE_NAMES, POSE_RANGES, strict=True))
        ],
        "source_kinds": " / ".join((*SOURCE_KINDS, ORIGINAL_RELEASE)),
        "style_names": ", ".join(STYLES),
        "attributions": attribution_lines(models),
        "n_models": len(models),
        "unlicensed": sorted(m.model_id for m in models if m.license == UNKNOWN_LICENSE),
        "model_kinds": model_kinds(models),
        "citation": CITATION,
    }
    _check_template_variables(TEMPLATE_PATH, card_data, values)
    return DatasetCard.from_template(card_data, template_path=str(TEMPLATE_PATH), **values)


def write_card(
    path: str | os.PathLike,
    split_sizes: Mapping[str, int],
    dataset_info: dict,
    models: Sequence[ModelLicence],
    has_contact_sheet: bool,
    *,
    resolution: int,
) -> None:
    """Write :func:`dataset_card` to ``path`` atomically."""
    card = dataset_card(split_sizes, dataset_info, models, has_contact_sheet, resolution=resolution)
    write_atomic(path, str(card))


def _check_template_variables(
    template_path: Path, card_data: DatasetCardData, values: Mapping[str, object]
) -> None:
    from jinja2 import Environment, meta

    used = meta.find_undeclared_variables(Environment().parse(template_path.read_text("utf-8")))
    missing = sorted(used - {"card_data"} - card_data.to_dict().keys() - values.keys())
    if missing:
        raise ValueError(f"{template_path}: no value for template variable(s) {missing}")
