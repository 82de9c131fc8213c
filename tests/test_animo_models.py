"""AniMo models: shapes, gradients, save/load, strict loading, the pose mapping's values."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from animeceleb.pose import EXPRESSION_DIM, POSE_DIM, POSE_INDEX, POSE_NAMES
from animo_hf import (
    BLENDSHAPE_NAMES,
    MOTION_DIM,
    PHI_TABLE,
    EditingNetwork,
    ExpressionMorpher,
    MotionNetwork,
    PIRendererGenerator,
    PoseMapping,
    WarpingNetwork,
)
from animo_hf.models.layers import warp
from animo_hf.motion_space import BLENDSHAPE_INDEX as BS

SIZE = 64


def seeded(cls, **kwargs):
    torch.manual_seed(0)
    return cls(**kwargs)


def run_model(model, inputs):
    """Forward pass of any of the models on ``inputs`` (a dict made by ``model_inputs``)."""
    if isinstance(model, PoseMapping):
        return model(inputs["pose"])
    if isinstance(model, MotionNetwork):
        return model(inputs["motion"])
    if isinstance(model, WarpingNetwork):
        return model(model.encode_source(inputs["source"]), inputs["z"])
    if isinstance(model, EditingNetwork):
        features = model.encode_source(inputs["source"])
        return model(features, inputs["flow"], inputs["z"], source=inputs["source"])
    if isinstance(model, ExpressionMorpher):
        return model(inputs["source"], inputs["pose"][:, :EXPRESSION_DIM]).image
    return model(inputs["source"], inputs["pose"]).image


def model_inputs(batch=2, requires_grad=False):
    generator = torch.Generator().manual_seed(1)
    pose = torch.rand(batch, POSE_DIM, generator=generator)
    pose[:, EXPRESSION_DIM:] = pose[:, EXPRESSION_DIM:] * 40 - 20
    inputs = {
        "pose": pose,
        "motion": torch.randn(batch, MOTION_DIM, generator=generator),
        "source": torch.rand(1, 3, SIZE, SIZE, generator=generator) * 2 - 1,
        "z": torch.randn(batch, 256, generator=generator),
        "flow": torch.randn(batch, 2, SIZE // 4, SIZE // 4, generator=generator) * 0.1,
    }
    return {k: v.requires_grad_(requires_grad) for k, v in inputs.items()}


TRAINABLE = [MotionNetwork, WarpingNetwork, EditingNetwork, PIRendererGenerator, ExpressionMorpher]
ALL_MODELS = [PoseMapping, *TRAINABLE]


@pytest.mark.parametrize("cls", TRAINABLE, ids=lambda c: c.__name__)
def test_forward_backward_reaches_every_parameter(cls):
    model = seeded(cls)
    out = run_model(model, model_inputs())
    expected = {
        MotionNetwork: (2, 256),
        WarpingNetwork: (2, 2, SIZE // 4, SIZE // 4),
        EditingNetwork: (2, 3, SIZE, SIZE),
        PIRendererGenerator: (2, 3, SIZE, SIZE),
        ExpressionMorpher: (2, 3, SIZE, SIZE),
    }[cls]
    assert out.shape == expected
    out.square().mean().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, f"{cls.__name__}.{name} got no gradient"
        assert param.grad.abs().sum() > 0, f"{cls.__name__}.{name} got a zero gradient"


def test_image_outputs_are_bounded():
    inputs = model_inputs()
    for cls in (EditingNetwork, PIRendererGenerator, ExpressionMorpher):
        out = run_model(seeded(cls), inputs)
        assert out.min() >= -1 and out.max() <= 1


def test_full_animo_chain_backpropagates_to_every_network():
    pose_mapping, motion, warping, editing = (
        PoseMapping(),
        seeded(MotionNetwork),
        seeded(WarpingNetwork),
        seeded(EditingNetwork),
    )
    inputs = model_inputs(requires_grad=True)
    z = motion(pose_mapping(inputs["pose"]))
    flow = warping(warping.encode_source(inputs["source"]), z)
    image = editing(editing.encode_source(inputs["source"]), flow, z, source=inputs["source"])
    image.mean().backward()
    for model in (motion, warping, editing):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    assert inputs["pose"].grad.abs().sum() > 0


def test_pose_mapping_is_buffer_only_and_saves_phi(tmp_path):
    mapping = PoseMapping()
    assert list(mapping.parameters()) == []
    assert mapping.phi.shape == (EXPRESSION_DIM, len(BLENDSHAPE_NAMES))
    with torch.no_grad():
        mapping.phi[POSE_INDEX["mouth_a"], BS["jawOpen"]] = 0.5  # a "refined" table
    mapping.save_pretrained(tmp_path)
    loaded = PoseMapping.from_pretrained(tmp_path)
    assert torch.equal(loaded.phi, mapping.phi)
    assert loaded.phi[POSE_INDEX["mouth_a"], BS["jawOpen"]] == 0.5


@pytest.mark.parametrize("cls", ALL_MODELS, ids=lambda c: c.__name__)
def test_save_load_gives_identical_outputs(cls, tmp_path):
    model = seeded(cls).eval()
    inputs = model_inputs()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "config.json").is_file()
    assert (tmp_path / "diffusion_pytorch_model.safetensors").is_file()
    assert not list(tmp_path.glob("*.bin"))
    torch.manual_seed(123)  # a different init would show if weights were not loaded
    loaded = cls.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert torch.equal(run_model(model, inputs), run_model(loaded, inputs))


def test_non_default_config_round_trips(tmp_path):
    model = seeded(WarpingNetwork, block_out_channels=(8, 16), downscale=2)
    model.save_pretrained(tmp_path)
    loaded = WarpingNetwork.from_pretrained(tmp_path)
    assert tuple(loaded.config.block_out_channels) == (8, 16)
    source = torch.rand(1, 3, 32, 32)
    flow = loaded(loaded.encode_source(source), torch.randn(1, 256))
    assert flow.shape == (1, 2, 16, 16)


def test_deeper_editing_network_round_trips_and_keeps_the_shipped_weight_names(tmp_path):
    shallow = EditingNetwork(block_out_channels=(8, 16), downscale=2)
    deeper = seeded(EditingNetwork, block_out_channels=(8, 16), downscale=2, layers_per_block=3)
    assert set(shallow.state_dict()) < set(deeper.state_dict())  # old checkpoints still load
    assert any(k.startswith("decoder.more_blocks.1.1.") for k in deeper.state_dict())
    deeper.save_pretrained(tmp_path)
    loaded = EditingNetwork.from_pretrained(tmp_path).eval()
    assert loaded.config.layers_per_block == 3
    source = torch.rand(2, 3, 32, 32) * 2 - 1
    flow, z = torch.zeros(2, 2, 16, 16), torch.randn(2, 256)
    with torch.no_grad():
        expected = deeper.eval()(deeper.encode_source(source), flow, z, source)
        assert torch.equal(loaded(loaded.encode_source(source), flow, z, source), expected)


def laplacian_variance(images: torch.Tensor) -> float:
    kernel = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]).expand(3, 1, 3, 3)
    return float(torch.nn.functional.conv2d(images, kernel, groups=3).var())


def test_bicubic_warp_keeps_the_detail_a_half_pixel_shift_blurs(tmp_path):
    torch.manual_seed(0)
    image = torch.rand(1, 3, 32, 32) * 2 - 1
    still = torch.zeros(1, 2, 32, 32)
    for mode in ("bilinear", "bicubic"):  # no motion: the image itself
        assert torch.allclose(warp(image, still, mode=mode), image, atol=1e-5)
    half_pixel = torch.zeros(1, 2, 32, 32)
    half_pixel[:, 0] = 1 / 32  # normalised units: [-1, 1] spans 32 pixels
    detail = {
        mode: laplacian_variance(warp(image, half_pixel, mode=mode))
        for mode in ("bilinear", "bicubic")
    }
    # bilinear averages each pair of neighbours; bicubic's kernel keeps more of the high frequencies
    assert detail["bicubic"] > 1.4 * detail["bilinear"], detail

    network = seeded(EditingNetwork, block_out_channels=(8, 16), downscale=2)
    network.save_pretrained(tmp_path)
    assert EditingNetwork.from_pretrained(tmp_path).config.warp_interpolation == "bilinear"
    resampled = EditingNetwork.from_pretrained(tmp_path, warp_interpolation="bicubic")
    assert torch.equal(resampled.warp_source(image, half_pixel), warp(image, half_pixel, "bicubic"))
    with pytest.raises(ValueError, match="warp_interpolation: 'nearest'; expected one of"):
        EditingNetwork(warp_interpolation="nearest")


SHIPPED = Path(__file__).resolve().parents[1] / "weights" / "animo"


@pytest.mark.parametrize(
    ("folder", "cls"),
    [
        ("pose_mapping", PoseMapping),
        ("motion_network", MotionNetwork),
        ("warping_network", WarpingNetwork),
        ("editing_network", EditingNetwork),
    ],
)
def test_the_shipped_configs_hold_only_what_the_networks_take(folder, cls):
    """No key a network would ignore (diffusers warns of each when it loads the folder)."""
    config = json.loads((SHIPPED / folder / "config.json").read_text())
    _, ignored, _ = cls.extract_init_dict(config)
    assert not ignored, f"weights/animo/{folder}/config.json: keys the network ignores"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("num_blocks", 2, r"do not match .*'unexpected_keys': \[.*'blocks\.2\.fc1"),
        ("num_blocks", 4, r"do not match .*'missing_keys': \[.*'blocks\.3\.fc1"),
        ("latent_dim", 128, "expected shape"),
    ],
)
def test_weights_that_do_not_fit_the_config_are_refused(tmp_path, key, value, message):
    seeded(MotionNetwork).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config[key] = value
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=message):
        MotionNetwork.from_pretrained(tmp_path)


def test_truncated_or_missing_weights_are_refused(tmp_path):
    seeded(EditingNetwork).save_pretrained(tmp_path)
    weights = tmp_path / "diffusion_pytorch_model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated"):
        EditingNetwork.from_pretrained(tmp_path)
    weights.write_bytes(data[:4])
    with pytest.raises(ValueError, match="safetensors"):
        EditingNetwork.from_pretrained(tmp_path)
    weights.unlink()
    with pytest.raises(FileNotFoundError, match="safetensors"):
        EditingNetwork.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="no_such_folder"):
        EditingNetwork.from_pretrained(tmp_path / "no_such_folder")


def test_local_paths_and_subfolders(tmp_path, monkeypatch):
    model = seeded(MotionNetwork)
    model.save_pretrained(tmp_path / "weights" / "motion")
    monkeypatch.chdir(tmp_path)
    # Relative folders that exist, with or without a subfolder (None is diffusers' default).
    torch.manual_seed(123)  # a different init would show if weights were not loaded
    for loaded in (
        MotionNetwork.from_pretrained("weights/motion"),
        MotionNetwork.from_pretrained("weights", subfolder="motion"),
        MotionNetwork.from_pretrained("weights/motion", subfolder=None),
    ):
        assert loaded.state_dict().keys() == model.state_dict().keys()
        assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in model.state_dict().items())
    # A mistyped local folder is not sent to the Hub: it is not a repo id ("org/name").
    with pytest.raises(FileNotFoundError, match=r"weights/animo/v1 \(and it is not a Hub repo"):
        MotionNetwork.from_pretrained("weights/animo/v1")
    with pytest.raises(FileNotFoundError, match="weights/nothing"):
        MotionNetwork.from_pretrained("weights", subfolder="nothing")
    for path in ("./motion", "~/no_such_animo_folder"):
        with pytest.raises(FileNotFoundError, match="motion|no_such_animo_folder"):
            MotionNetwork.from_pretrained(path)


def pose_of(**values):
    pose = torch.zeros(1, POSE_DIM)
    for name, value in values.items():
        pose[0, POSE_INDEX[name]] = value
    return pose


def test_pose_mapping_values_for_known_poses():
    mapping = PoseMapping()
    assert torch.equal(mapping(torch.zeros(1, POSE_DIM)), torch.zeros(1, MOTION_DIM))
    m = mapping(pose_of(eye_close_L=1.0))[0]
    assert m[BS["eyeBlinkLeft"]] == 1.0 and m[BS["eyeBlinkRight"]] == 0.0
    assert m.abs().sum() == 1.0
    m = mapping(pose_of(mouth_a=0.5))[0]
    assert m[BS["jawOpen"]] == pytest.approx(0.5)
    m = mapping(pose_of(eye_happy_R=1.0, brow_angry_L=0.5))[0]
    assert m[BS["eyeSquintRight"]] == pytest.approx(0.7)
    assert m[BS["browDownLeft"]] == pytest.approx(0.5)
    assert m[BS["eyeSquintLeft"]] == 0 and m[BS["browDownRight"]] == 0
    m = mapping(pose_of(yaw=20.0, pitch=-10.0, roll=5.0))[0]
    assert m[52:55].tolist() == pytest.approx(np.radians([20.0, -10.0, 5.0]).tolist())
    assert m[55:].tolist() == [0.0, 0.0, 0.0]  # translation
    assert m[:52].abs().sum() == 0


def test_phi_table_is_left_right_symmetric_and_invertible():
    assert set(PHI_TABLE) == set(POSE_NAMES[:EXPRESSION_DIM])
    for name, row in PHI_TABLE.items():
        if name.endswith("_L"):
            mirrored = {k.replace("Left", "Right"): v for k, v in row.items()}
            assert mirrored == PHI_TABLE[name[:-2] + "_R"]
    assert torch.linalg.matrix_rank(PoseMapping().phi) == EXPRESSION_DIM


def test_inverse_mapping_recovers_expressions():
    mapping = PoseMapping()
    expression = torch.rand(64, EXPRESSION_DIM, generator=torch.Generator().manual_seed(0))
    pose = torch.cat([expression, torch.rand(64, 3) * 40 - 20], dim=1)
    motion = mapping(pose)
    recovered = mapping.expression_from_blendshapes(motion[:, :52])
    assert (recovered - expression).abs().max() < 0.02
    back = mapping.pose_from_motion(motion)
    assert (back - pose).abs().max() < 0.02
    # A pure blink of the subject's left eye is the character's left eye_close.
    blink = torch.zeros(1, 52)
    blink[0, BS["eyeBlinkLeft"]] = 1.0
    expr = mapping.expression_from_blendshapes(blink)[0]
    assert expr[POSE_INDEX["eye_close_L"]] > 0.95
    assert expr.sum() - expr[POSE_INDEX["eye_close_L"]] < 0.05
    # Angles beyond the data's range are clipped.
    motion = torch.zeros(1, MOTION_DIM)
    motion[0, 52] = np.radians(35.0)
    assert mapping.pose_from_motion(motion)[0, POSE_INDEX["yaw"]] == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: PoseMapping()(torch.zeros(2, 19)), r"\(N, 20\)"),
        (lambda: PoseMapping().expression_from_blendshapes(torch.zeros(2, 51)), r"\(N, 52\)"),
        (lambda: MotionNetwork()(torch.zeros(2, 20)), r"\(N, 58\)"),
        (lambda: PIRendererGenerator()(torch.zeros(1, 3, 64, 64), torch.zeros(1, 17)), "20"),
    ],
)
def test_wrong_input_shapes_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_warp_identity_and_direction():
    features = torch.arange(64.0).reshape(1, 1, 8, 8)
    assert torch.allclose(warp(features, torch.zeros(1, 2, 8, 8)), features)
    # out[p] = features[p + flow]: one pixel to the right is 2 / width in normalised units.
    shifted = warp(features, torch.tensor([2 / 8, 0.0]).view(1, 2, 1, 1).expand(1, 2, 8, 8))
    assert torch.allclose(shifted[..., :-1], features[..., 1:])
    assert torch.allclose(shifted[..., -1], features[..., -1])  # border padding
    # A low-resolution flow is resized to the features.
    assert warp(features, torch.zeros(1, 2, 2, 2)).shape == features.shape


def test_inverse_mapping_works_in_half_precision_weights():
    mapping = PoseMapping().to(torch.bfloat16)
    motion = PoseMapping()(pose_of(mouth_o=0.8))
    expression = mapping.expression_from_blendshapes(motion[:, :52].to(torch.bfloat16))
    assert expression.dtype == torch.float32
    assert expression[0, POSE_INDEX["mouth_o"]] == pytest.approx(0.8, abs=0.02)


def test_shared_heads_keep_state_dict_keys_and_identity_start():
    for model in (seeded(WarpingNetwork), seeded(PIRendererGenerator)):
        keys = set(model.state_dict())
        assert {"to_flow.weight", "to_flow.bias"} <= keys
        assert model.to_flow.bias.abs().max() == 0 and model.to_flow.weight.abs().max() < 0.01
    for model in (seeded(EditingNetwork), seeded(PIRendererGenerator)):
        assert {"to_image.0.weight", "to_image.0.bias"} <= set(model.state_dict())


def test_composite_output_is_the_masked_blend_of_warped_source_and_generated():
    from animo_hf.models.layers import warp

    editing = seeded(EditingNetwork)
    inputs = model_inputs()
    features = editing.encode_source(inputs["source"])
    with torch.no_grad():
        out = editing(features, inputs["flow"], inputs["z"], source=inputs["source"])
        warped_features = tuple(warp(f.expand(2, -1, -1, -1), inputs["flow"]) for f in features)
        head = editing.to_image(editing.decoder(warped_features, inputs["z"]))
    mask = (head[:, 3:] + 1) / 2
    warped = warp(inputs["source"].expand(2, -1, -1, -1), inputs["flow"])
    assert torch.allclose(out, mask * warped + (1 - mask) * head[:, :3], atol=1e-6)
    assert 0.45 < mask.mean() < 0.55, "an untrained mask starts half way"
    plain = seeded(EditingNetwork, composite=False)
    assert plain(plain.encode_source(inputs["source"]), inputs["flow"], inputs["z"]).shape == (
        2,
        3,
        SIZE,
        SIZE,
    )
    with pytest.raises(ValueError, match="source: the source image is needed"):
        editing(features, inputs["flow"], inputs["z"])
