"""AnimeCeleb dataset builder: 3D models -> Blender renders -> Parquet in Hub layout.

Importing this package imports neither ``bpy`` nor ``torch``; Blender runs only in worker
processes started with ``spawn`` (see ``dataset_builder.worker``).
"""

from .annotation import Annotation, annotate_by_name
from .pose import POSE_DIM, POSE_NAMES, TARGET_MORPH_NAMES, pose_from_morphs, validate_pose

__all__ = [
    "POSE_DIM",
    "POSE_NAMES",
    "TARGET_MORPH_NAMES",
    "Annotation",
    "annotate_by_name",
    "pose_from_morphs",
    "validate_pose",
]
