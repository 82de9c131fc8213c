from .pipeline_animo import (
    AniMoAnimation,
    AniMoPipeline,
    AniMoPipelineOutput,
    AniMoSourceFeatures,
)

__all__ = ["AniMoAnimation", "AniMoPipeline", "AniMoPipelineOutput", "AniMoSourceFeatures"]
