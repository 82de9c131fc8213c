"""What a render worker is given and what it returns: plain data, shared by the parent's
scheduling (``build``, ``ray_backend``, ``worker``) and the Blender jobs (``blender.jobs``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .sources import ModelSource


@dataclass(frozen=True)
class RenderTask:
    """Render one model: its ``styles`` at ``resolution`` into the shard at ``shard_path``
    (``shards.write_shard``), its annotation read from or saved to ``annotation_path``."""

    source: ModelSource
    styles: tuple[str, ...]
    resolution: int
    seed: int
    shard_path: str
    annotation_path: str
    n_samples: int | None = None


@dataclass
class ModelReport:
    """How one model's render went."""

    model_id: str
    status: str  # "rendered" or "skipped"
    reason: str = ""
    n_targets: int = 0
    images: dict[str, int] = field(default_factory=dict)  # "style/group" -> count
    seconds: float = 0.0
    target_sources: dict[str, int] = field(default_factory=dict)  # "name", "inspection"... -> n
