from .editing_network import EditingNetwork
from .expression_morpher import ExpressionMorpher, MorpherOutput
from .motion_network import MotionNetwork
from .pirenderer import PIRendererGenerator, PIRendererOutput, PIRendererSourceFeatures
from .pose_mapping import PHI_TABLE, PoseMapping
from .warping_network import WarpingNetwork

__all__ = [
    "PHI_TABLE",
    "EditingNetwork",
    "ExpressionMorpher",
    "MorpherOutput",
    "MotionNetwork",
    "PIRendererGenerator",
    "PIRendererOutput",
    "PIRendererSourceFeatures",
    "PoseMapping",
    "WarpingNetwork",
]
