from .pipeline_animo import (
    AniMoAnimation,
    AniMoPipeline,
    AniMoPipelineOutput,
    AniMoSourceFeatures,
)
from .source_cache import AniMoSourceCache

__all__ = [
    "AniMoAnimation",
    "AniMoPipeline",
    "AniMoPipelineOutput",
    "AniMoSourceCache",
    "AniMoSourceFeatures",
]
