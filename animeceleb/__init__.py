"""AnimeCeleb's one definition: the 20-d pose vector, its target morphs, sampling and the split.

Used by the dataset builder, ``animo_hf``, training and the Space alike. Imports only the
standard library and numpy (see ``docs/animeceleb.md``).
"""

from .pose import (
    ANGLE_LIMIT_DEG,
    ANGLE_NAMES,
    ANGLE_SLICE,
    EXPRESSION_DIM,
    POSE_DIM,
    POSE_INDEX,
    POSE_NAMES,
    POSE_RANGES,
    TARGET_MORPH_NAMES,
    TARGET_MORPHS,
    TargetMorph,
    morphs_from_pose,
    pose_from_morphs,
    validate_pose,
)
from .sampling import GROUPS, SPLITS, PoseSample, identity_split, sample_pairs, samples_for

__all__ = [
    "ANGLE_LIMIT_DEG",
    "ANGLE_NAMES",
    "ANGLE_SLICE",
    "EXPRESSION_DIM",
    "GROUPS",
    "POSE_DIM",
    "POSE_INDEX",
    "POSE_NAMES",
    "POSE_RANGES",
    "SPLITS",
    "TARGET_MORPHS",
    "TARGET_MORPH_NAMES",
    "PoseSample",
    "TargetMorph",
    "identity_split",
    "morphs_from_pose",
    "pose_from_morphs",
    "sample_pairs",
    "samples_for",
    "validate_pose",
]
