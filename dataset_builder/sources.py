"""Where a model comes from, its id, licence and attribution (no bpy)."""

from __future__ import annotations

from dataclasses import dataclass

SOURCE_KINDS = ("procedural", "vrm", "gltf", "blend", "official")
PROCEDURAL_LICENSE = "cc-by-4.0"


@dataclass(frozen=True)
class ModelSource:
    """One 3D model to render.

    ``seed`` identifies a procedural character; ``path`` a model file (VRM, glTF, .blend).
    """

    model_id: str
    kind: str
    license: str
    attribution: str
    seed: int | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ValueError(
                f"{self.model_id}: unknown source kind {self.kind!r}; expected {SOURCE_KINDS}"
            )


def procedural_sources(count: int, first_seed: int = 0) -> list[ModelSource]:
    """``count`` procedural characters with seeds ``first_seed ..``."""
    from .procedural import procedural_model_id

    if count <= 0:
        raise ValueError(f"number of procedural models must be > 0, got {count}")
    return [
        ModelSource(
            model_id=procedural_model_id(seed),
            kind="procedural",
            license=PROCEDURAL_LICENSE,
            attribution=f"AnimeCeleb-HF procedural character, seed {seed}",
            seed=seed,
        )
        for seed in range(first_seed, first_seed + count)
    ]
