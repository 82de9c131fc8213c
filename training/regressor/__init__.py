"""The pose regressor, laid out by job: its run config (:mod:`.configuration_regressor`), the model
(:mod:`.modeling_regressor`: build, load, predict), its trainer (:mod:`.train`, the console script
``animeceleb-train-regressor``), its evaluation on held-out identities (:mod:`.evaluate`), its
model card (:mod:`.card`) and the shipping of a finished run (:mod:`.publish`)::

    from training.regressor import load_regressor, predict_poses

    model = load_regressor("weights/pose-regressor")
    poses = predict_poses(model, images)  # (N, 3, H, W) RGB over white in [-1, 1] -> (N, 20)

Importing this package loads the model and its config only, not the trainer.
"""

from .configuration_regressor import RegressorArchitecture, RegressorConfig
from .modeling_regressor import (
    POSE_SCALE,
    build_regressor,
    load_regressor,
    normalize_poses,
    pose_scale,
    predict_poses,
    regressor_config,
    resize_for_regressor,
)

__all__ = [
    "POSE_SCALE",
    "RegressorArchitecture",
    "RegressorConfig",
    "build_regressor",
    "load_regressor",
    "normalize_poses",
    "pose_scale",
    "predict_poses",
    "regressor_config",
    "resize_for_regressor",
]
