"""Expression error: mean absolute error over the 17 expression dims of 20-d poses."""

from __future__ import annotations

import evaluate
import numpy as np

from animeceleb.pose import EXPRESSION_DIM, POSE_NAMES

from ._common import PosePairInputs, pose_pairs

_DESCRIPTION = """\
Expression error between predicted and reference AnimeCeleb poses: the absolute difference of the
expression dims 0-16 (eyes, brows, mouth; all in [0, 1]), averaged over the dims and all pairs;
plus the mean per dim, keyed by the pose names of animeceleb.pose (eye_close_L ... mouth_o).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: 20-d poses (animeceleb.pose layout), an array (N, 20) or a list of vectors;
        expression dims 0-16 in [0, 1], angles in degrees within +-180 (not scored here).
    references: poses of the same layout, one per prediction.
Returns:
    expression_error (float): mean absolute error over the 17 expression dims and pairs.
    eye_close_L, eye_close_R, ..., mouth_o (float): the mean absolute error of each dim.
Examples:
    >>> metric = load_metric("expression_error")
    >>> metric.compute(predictions=poses, references=targets)["mouth_a"]
"""

_CITATION = """\
@inproceedings{kim2022animeceleb,
  title={AnimeCeleb: Large-Scale Animation CelebHeads Dataset for Head Reenactment},
  author={Kim, Kangyeol and Park, Sunghyun and Lee, Jaeseong and Chung, Sunghyo and Lee, Junsoo
    and Choo, Jaegul},
  booktitle={European Conference on Computer Vision (ECCV)}, year={2022}
}
"""


class ExpressionError(PosePairInputs, evaluate.Metric):
    DESCRIPTION, CITATION, INPUTS = _DESCRIPTION, _CITATION, _KWARGS_DESCRIPTION

    def _compute(self, predictions, references):
        predictions, references = pose_pairs(predictions, references, metric="expression_error")
        error = np.abs(predictions[:, :EXPRESSION_DIM] - references[:, :EXPRESSION_DIM])
        result = {"expression_error": float(error.mean())}
        result.update({POSE_NAMES[i]: float(error[:, i].mean()) for i in range(EXPRESSION_DIM)})
        return result
