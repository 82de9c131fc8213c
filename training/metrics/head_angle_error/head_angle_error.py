"""Head angle error: mean absolute error in degrees over yaw, pitch, roll of 20-d poses."""

from __future__ import annotations

import evaluate
import numpy as np

from animeceleb.pose import ANGLE_NAMES, ANGLE_SLICE

from ._common import PosePairInputs, pose_pairs

_DESCRIPTION = """\
Head angle error (HAE) between predicted and reference AnimeCeleb poses: the absolute difference in
degrees of yaw, pitch and roll (pose dims 17, 18, 19), wrapped to [0, 180], averaged over the three
angles and all pairs; plus the mean per angle.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: 20-d poses (animeceleb.pose layout), an array (N, 20) or a list of vectors;
        expression dims 0-16 in [0, 1], angles in degrees within +-180.
    references: poses of the same layout, one per prediction.
Returns:
    head_angle_error (float): mean absolute angle error in degrees over yaw, pitch, roll and pairs.
    yaw, pitch, roll (float): the mean absolute error of each angle in degrees.
Examples:
    >>> metric = load_metric("head_angle_error")
    >>> metric.compute(predictions=[p], references=[q])  # p, q differ by 3 deg of yaw
    {'head_angle_error': 1.0, 'yaw': 3.0, 'pitch': 0.0, 'roll': 0.0}
"""

_CITATION = """\
@inproceedings{kim2022animeceleb,
  title={AnimeCeleb: Large-Scale Animation CelebHeads Dataset for Head Reenactment},
  author={Kim, Kangyeol and Park, Sunghyun and Lee, Jaeseong and Chung, Sunghyo and Lee, Junsoo
    and Choo, Jaegul},
  booktitle={European Conference on Computer Vision (ECCV)}, year={2022}
}
"""


class HeadAngleError(PosePairInputs, evaluate.Metric):
    DESCRIPTION, CITATION, INPUTS = _DESCRIPTION, _CITATION, _KWARGS_DESCRIPTION

    def _compute(self, predictions, references):
        predictions, references = pose_pairs(predictions, references, metric="head_angle_error")
        difference = predictions[:, ANGLE_SLICE] - references[:, ANGLE_SLICE]
        error = np.abs((difference + 180.0) % 360.0 - 180.0)
        result = {"head_angle_error": float(error.mean())}
        result.update({name: float(error[:, i].mean()) for i, name in enumerate(ANGLE_NAMES)})
        return result
