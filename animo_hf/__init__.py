"""AniMo (AnimeCeleb paper, section 3) as diffusers-style models and a pipeline.

``import animo_hf`` does not import MediaPipe; :class:`HumanPoseExtractor` imports it when it
opens a landmarker.
"""

from .extractor import HumanPoseExtractor, HumanPoseSequence, head_angles
from .framing import frame_character
from .model_card import animo_model_card
from .models import (
    PHI_TABLE,
    EditingNetwork,
    ExpressionMorpher,
    MorpherOutput,
    MotionNetwork,
    PIRendererGenerator,
    PIRendererOutput,
    PIRendererSourceFeatures,
    PoseMapping,
    WarpingNetwork,
)
from .motion_space import BLENDSHAPE_NAMES, MOTION_DIM, compose_motion, motion_from_blendshapes
from .pipelines import (
    AniMoAnimation,
    AniMoPipeline,
    AniMoPipelineOutput,
    AniMoSourceCache,
    AniMoSourceFeatures,
)
from .sampling import sample_poses
from .video import export_to_mp4, read_video

__all__ = [
    "BLENDSHAPE_NAMES",
    "MOTION_DIM",
    "PHI_TABLE",
    "AniMoAnimation",
    "AniMoPipeline",
    "AniMoPipelineOutput",
    "AniMoSourceCache",
    "AniMoSourceFeatures",
    "EditingNetwork",
    "ExpressionMorpher",
    "HumanPoseExtractor",
    "HumanPoseSequence",
    "MorpherOutput",
    "MotionNetwork",
    "PIRendererGenerator",
    "PIRendererOutput",
    "PIRendererSourceFeatures",
    "PoseMapping",
    "WarpingNetwork",
    "animo_model_card",
    "compose_motion",
    "export_to_mp4",
    "frame_character",
    "head_angles",
    "motion_from_blendshapes",
    "read_video",
    "sample_poses",
]
