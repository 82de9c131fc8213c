"""Demo driving poses: one slider per pose dimension with its range, and preset expressions that
are the poses their names say."""

import numpy as np
import pytest

from animeceleb.pose import POSE_DIM, POSE_INDEX
from animo_hf.presets import EXPRESSION_PRESETS, POSE_SLIDERS, pose_from_sliders, preset_pose


def test_a_slider_per_dimension_in_pose_order_with_its_range():
    assert [s.name for s in POSE_SLIDERS][:2] == ["eye_close_L", "eye_close_R"]
    assert len(POSE_SLIDERS) == POSE_DIM
    yaw = POSE_SLIDERS[POSE_INDEX["yaw"]]
    assert (yaw.minimum, yaw.maximum, yaw.step) == (-20.0, 20.0, 1.0)
    assert POSE_SLIDERS[POSE_INDEX["mouth_a"]].step == 0.05


def test_presets_are_the_poses_their_names_say():
    closed = preset_pose("eyes closed", angles=(10.0, 0.0, -5.0))
    assert closed[POSE_INDEX["eye_close_L"]] == closed[POSE_INDEX["eye_close_R"]] == 1.0
    assert closed[POSE_INDEX["yaw"]] == 10.0 and closed[POSE_INDEX["roll"]] == -5.0
    wink = preset_pose("wink")
    assert wink[POSE_INDEX["eye_close_L"]] == 1.0 and wink[POSE_INDEX["eye_close_R"]] == 0.0
    assert not preset_pose("neutral").any()
    assert all(preset_pose(name).shape == (POSE_DIM,) for name in EXPRESSION_PRESETS)
    with pytest.raises(ValueError, match=r"unknown preset 'grin'; expected one of \['neutral'"):
        preset_pose("grin")


def test_slider_values_out_of_range_are_named():
    values = np.zeros(POSE_DIM)
    assert pose_from_sliders(values).dtype == np.float32
    values[POSE_INDEX["pitch"]] = 25
    with pytest.raises(ValueError, match=r"sliders: pitch = 25 is outside its range \[-20, 20\]"):
        pose_from_sliders(values)
