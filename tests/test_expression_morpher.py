"""The expression stage (issue 37): ExpressionMorpher's crop, its start as a near copy, save/load
and strict loading, exportability; then AniMoPipeline with the morpher as an optional component:
saved and loaded with it or without it, the morpher on the neutral source before the head turns,
and one morpher run per distinct expression."""

import io
import json
import logging
import shutil
import time
import warnings
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

from animeceleb.pose import EXPRESSION_DIM
from animo_hf import (
    AniMoPipeline,
    AniMoSourceCache,
    EditingNetwork,
    ExpressionMorpher,
    MorpherOutput,
    MotionNetwork,
    PoseMapping,
    WarpingNetwork,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHIPPED = PROJECT_ROOT / "weights" / "animo"
SIZE = 64
TINY = {"block_out_channels": (8, 16)}  # a fast morpher for the pipeline tests


def seeded_morpher(seed=0, **kwargs) -> ExpressionMorpher:
    torch.manual_seed(seed)
    return ExpressionMorpher(**kwargs).eval()


def images(n=1, size=256, seed=0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def expressions(n=2, seed=1) -> torch.Tensor:
    return torch.rand(n, EXPRESSION_DIM, generator=torch.Generator().manual_seed(seed))


def drawing(morpher: ExpressionMorpher) -> ExpressionMorpher:
    """``morpher`` changed to draw: alpha about 0.5 and a flow, as after some training."""
    with torch.no_grad():
        morpher.alpha_head.bias.zero_()
        torch.nn.init.normal_(morpher.flow_head.weight, std=0.05)
    return morpher


def outside_crop(image: torch.Tensor, rows: slice, cols: slice) -> torch.Tensor:
    keep = torch.ones(image.shape[-2:], dtype=torch.bool)
    keep[rows, cols] = False
    return image[..., keep]


def test_the_crop_box_is_the_face_of_a_framed_character():
    morpher = ExpressionMorpher()
    assert morpher.crop_box(256, 256) == (slice(96, 224), slice(64, 192))
    assert morpher.multiple == 16
    assert morpher.crop_box(64, 64) == (slice(24, 56), slice(16, 48))
    # Rounded to the U-Net's multiple and kept inside the frame.
    assert morpher.crop_box(96, 160) == (slice(36, 84), slice(40, 120))
    assert morpher.crop_box(torch.tensor(256), torch.tensor(256)) == morpher.crop_box(256, 256)


def test_shapes_and_pixels_outside_the_crop_are_exact_copies():
    morpher = drawing(seeded_morpher())
    source = images()
    with torch.no_grad():
        out = morpher(source, expressions(3))  # one source, three expressions
    assert isinstance(out, MorpherOutput)
    assert out.image.shape == (3, 3, 256, 256)
    assert out.alpha.shape == (3, 1, 128, 128) and out.colour.shape == (3, 3, 128, 128)
    assert out.flow.shape == (3, 2, 128, 128)
    assert out.image.min() >= -1 and out.image.max() <= 1
    rows, cols = morpher.crop_box(256, 256)
    expected = outside_crop(source.expand(3, -1, -1, -1), rows, cols)
    assert torch.equal(outside_crop(out.image, rows, cols), expected)
    # The crop itself is redrawn: ``alpha * colour + (1 - alpha) * warp(crop, flow)``.
    change = (out.image[..., rows, cols] - source[..., rows, cols]).abs()
    assert change.mean() > 0.2
    # A batch of sources, one expression each, gives each source its own frame.
    with torch.no_grad():
        pair = morpher(images(2), expressions(2)).image
        second = morpher(images(2)[1:], expressions(2)[1:]).image
    assert torch.allclose(pair[1:], second, atol=1e-5)  # equal up to the batch's float order


def test_a_fresh_morpher_is_almost_a_copy_of_the_source():
    morpher = seeded_morpher()
    source = images()
    with torch.no_grad():
        out = morpher(source, expressions(4))
    assert not out.flow.any()  # the warp starts at zero
    assert torch.allclose(out.alpha, torch.full_like(out.alpha, 0.05), atol=0.03)
    rows, cols = morpher.crop_box(256, 256)
    change = (out.image - source)[..., rows, cols].abs()
    assert change.max() <= 2 * out.alpha.max() + 1e-6  # |alpha * (colour - crop)| <= 2 alpha
    assert change.mean() < 0.05
    no_warp = seeded_morpher(warp=False)
    assert no_warp.flow_head is None
    with torch.no_grad():
        assert not no_warp(source, expressions(1)).flow.any()


def test_alpha_zero_is_the_identity():
    morpher = drawing(seeded_morpher(**TINY))
    with torch.no_grad():
        morpher.alpha_head.weight.zero_()
        morpher.alpha_head.bias.fill_(-1e4)  # sigmoid: exactly 0
        torch.nn.init.zeros_(morpher.flow_head.weight)
        source = images(size=SIZE)
        assert torch.equal(morpher(source, expressions(3)).image, source.expand(3, -1, -1, -1))


def test_save_load_round_trip_and_strict_loading(tmp_path):
    morpher = drawing(seeded_morpher(block_out_channels=(16, 32, 48), crop_top=0.4))
    morpher.save_pretrained(tmp_path / "morpher")
    assert (tmp_path / "morpher" / "diffusion_pytorch_model.safetensors").is_file()
    assert not list(tmp_path.rglob("*.bin"))
    torch.manual_seed(123)  # a different init would show if the weights were not loaded
    loaded = ExpressionMorpher.from_pretrained(tmp_path / "morpher").eval()
    assert loaded.config.crop_top == 0.4 and tuple(loaded.config.block_out_channels) == (16, 32, 48)
    source, expression = images(), expressions(2)
    with torch.no_grad():
        assert torch.equal(loaded(source, expression).image, morpher(source, expression).image)
    # Weights that do not fit the config are refused, not half loaded.
    for key, value, message in (
        ("block_out_channels", [16, 32, 64], "expected shape"),
        ("warp", False, r"'unexpected_keys': \[.*flow_head"),
        ("expression_dim", 20, "expected shape"),
    ):
        folder = tmp_path / f"{key}-{value}"
        shutil.copytree(tmp_path / "morpher", folder)
        config = json.loads((folder / "config.json").read_text())
        config[key] = value
        (folder / "config.json").write_text(json.dumps(config))
        with pytest.raises(ValueError, match=message):
            ExpressionMorpher.from_pretrained(folder)
    weights = tmp_path / "morpher" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ValueError, match="truncated"):
        ExpressionMorpher.from_pretrained(tmp_path / "morpher")


class ImageOnly(torch.nn.Module):
    """The morpher's image: the one output an exported graph needs."""

    def __init__(self, morpher: ExpressionMorpher) -> None:
        super().__init__()
        self.morpher = morpher

    def forward(self, image: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
        return self.morpher(image, expression).image


def test_forward_traces_without_control_flow_on_tensor_values():
    """A traced graph replays the same ops for any values: it matches eager mode on other images
    and expressions (zero, one, random), and the trace saw no tensor turned into a Python bool
    in the morpher (an ``if`` on a value). Sizes may become Python ints: the crop box is fixed
    for a frame size, and so is an exported graph."""
    model = ImageOnly(drawing(seeded_morpher(**TINY)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        traced = torch.jit.trace(model, (images(size=SIZE), expressions(2)))
    value_branches = [
        str(w.message)
        for w in caught
        if issubclass(w.category, torch.jit.TracerWarning)
        and w.filename.endswith("expression_morpher.py")
        and "Python boolean" in str(w.message)
    ]
    assert not value_branches, value_branches
    with torch.no_grad():
        for expression in (torch.zeros(2, 17), torch.ones(2, 17), expressions(2, seed=5)):
            source = images(size=SIZE, seed=3)
            assert torch.allclose(traced(source, expression), model(source, expression), atol=1e-6)


def test_the_morpher_exports_to_onnx():
    """ONNX opset 17 with the TorchScript exporter (the torch.export one needs onnxscript). The
    exporter's last step needs the ``onnx`` package: skipped without it."""
    onnx = pytest.importorskip("onnx", reason="the onnx package is not installed")
    model = ImageOnly(seeded_morpher(**TINY))
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (images(size=SIZE), expressions(1)),
            buffer,
            opset_version=17,
            dynamo=False,
            input_names=["image", "expression"],
            output_names=["expressed"],
        )
    proto = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(proto)
    assert [output.name for output in proto.graph.output] == ["expressed"]


# --- AniMoPipeline with the expression stage -------------------------------------------------


def make_pipeline(morpher: ExpressionMorpher | None = None) -> AniMoPipeline:
    torch.manual_seed(0)
    pipe = AniMoPipeline(
        PoseMapping(),
        MotionNetwork(),
        WarpingNetwork(),
        EditingNetwork(sample_size=SIZE),
        expression_morpher=morpher,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def with_morpher(pipe: AniMoPipeline, morpher: ExpressionMorpher) -> AniMoPipeline:
    """``pipe``'s rotator (the same modules) with ``morpher`` before it."""
    other = AniMoPipeline(**{**pipe.components, "expression_morpher": morpher})
    other.set_progress_bar_config(disable=True)
    return other


def identity_morpher() -> ExpressionMorpher:
    """A morpher whose alpha is exactly 0 and flow 0: the expression stage is the identity."""
    morpher = drawing(seeded_morpher(**TINY))
    with torch.no_grad():
        morpher.alpha_head.weight.zero_()
        morpher.alpha_head.bias.fill_(-1e4)
        morpher.flow_head.weight.zero_()
    return morpher


def character(size=80) -> PIL.Image.Image:
    """An RGBA character: a face-coloured disc with some texture, transparent around it."""
    yy, xx = np.mgrid[:size, :size]
    array = np.zeros((size, size, 4), np.uint8)
    array[..., 0] = 230
    array[..., 1] = 120 + (xx * 5 % 100)
    array[..., 2] = yy * 3
    array[..., 3] = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 2.5) ** 2) * 255
    return PIL.Image.fromarray(array, "RGBA")


def pose_sequence(expression_ids, seed=0) -> torch.Tensor:
    """One pose a frame: the expression ``expression_ids[i]`` (equal ids, equal values) and
    head angles that differ every frame."""
    generator = torch.Generator().manual_seed(seed)
    table = torch.rand(max(expression_ids) + 1, EXPRESSION_DIM, generator=generator)
    angles = torch.rand(len(expression_ids), 3, generator=generator) * 40 - 20
    return torch.cat([table[list(expression_ids)], angles], dim=1)


def animate(pipe: AniMoPipeline, pose: torch.Tensor, batch_size=8) -> np.ndarray:
    return pipe(
        character(), pose=pose, height=SIZE, width=SIZE, batch_size=batch_size, output_type="np"
    ).frames


class CountingMorpher:
    """Counts the morpher's runs and the expressions they draw."""

    def __init__(self, morpher: ExpressionMorpher, monkeypatch) -> None:
        self.calls, self.expressions = 0, 0
        original = morpher.forward

        def counting(image, expression):
            self.calls += 1
            self.expressions += len(expression)
            return original(image, expression)

        monkeypatch.setattr(morpher, "forward", counting)


def test_a_pipeline_saved_with_a_morpher_loads_with_it(tmp_path):
    pipe = make_pipeline(drawing(seeded_morpher(**TINY)))
    pipe.save_pretrained(tmp_path / "pipe")
    index = json.loads((tmp_path / "pipe" / "model_index.json").read_text())
    assert index["expression_morpher"] == [
        "animo_hf.models.expression_morpher",
        "ExpressionMorpher",
    ]
    assert (tmp_path / "pipe" / "expression_morpher" / "config.json").is_file()
    AniMoPipeline.check_folder(tmp_path / "pipe")
    assert AniMoPipeline.component_classes()["expression_morpher"] is ExpressionMorpher
    loaded = AniMoPipeline.from_pretrained(tmp_path / "pipe")
    loaded.set_progress_bar_config(disable=True)
    assert isinstance(loaded.expression_morpher, ExpressionMorpher)
    assert loaded.expression_morpher.config.block_out_channels == [8, 16]
    for name, tensor in pipe.expression_morpher.state_dict().items():
        assert torch.equal(loaded.expression_morpher.state_dict()[name], tensor), name
    pose = pose_sequence([0, 1, 1])
    assert np.array_equal(animate(loaded, pose), animate(pipe, pose))
    # Passing None leaves it out; a folder that names it must hold it, with fitting weights.
    assert AniMoPipeline.from_pretrained(tmp_path / "pipe", expression_morpher=None)
    broken = tmp_path / "broken"
    shutil.copytree(tmp_path / "pipe", broken)
    config = json.loads((broken / "expression_morpher" / "config.json").read_text())
    config["block_out_channels"] = [8, 24]
    (broken / "expression_morpher" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="expected shape"):
        AniMoPipeline.from_pretrained(broken)
    shutil.rmtree(broken / "expression_morpher")
    with pytest.raises(FileNotFoundError, match="component folder 'expression_morpher'"):
        AniMoPipeline.from_pretrained(broken)


def diffusers_warnings():
    """A list that collects diffusers' log records of WARNING and above while in use."""
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    return records, handler


@pytest.mark.parametrize("index_entry", ["absent", "null"])
def test_a_folder_without_a_morpher_loads_without_it_and_without_a_warning(tmp_path, index_entry):
    folder = tmp_path / "pipe"
    make_pipeline().save_pretrained(folder)
    index = json.loads((folder / "model_index.json").read_text())
    assert (
        index.get("expression_morpher", [None])[0] is None
        and not (folder / "expression_morpher").exists()
    )
    if index_entry == "absent":  # as in every shipped folder, saved before the morpher existed
        index.pop("expression_morpher", None)
        (folder / "model_index.json").write_text(json.dumps(index))
    AniMoPipeline.check_folder(folder)
    records, handler = diffusers_warnings()
    logger = logging.getLogger("diffusers")
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loaded = AniMoPipeline.from_pretrained(folder)
    finally:
        logger.removeHandler(handler)
    assert loaded.expression_morpher is None
    assert not [r.getMessage() for r in records] and not [str(w.message) for w in caught]


def test_the_shipped_folder_loads_without_a_morpher():
    if not (SHIPPED / "model_index.json").is_file():
        pytest.skip("weights/animo not found")
    AniMoPipeline.check_folder(SHIPPED)
    assert AniMoPipeline.from_pretrained(SHIPPED).expression_morpher is None


def test_a_morpher_with_alpha_zero_gives_the_frames_of_the_pipeline_without_it():
    plain = make_pipeline()
    expressed = with_morpher(plain, identity_morpher())
    held = pose_sequence([0, 0, 0, 0])  # one expression: one encoding, batch 1, as without
    assert np.array_equal(animate(expressed, held, batch_size=3), animate(plain, held, 3))
    varied = pose_sequence([0, 1, 2, 1, 3])  # one encoding a frame, gathered into batches
    difference = np.abs(animate(expressed, varied, batch_size=3) - animate(plain, varied))
    assert difference.max() < 1e-5


def reference_frames(pipe: AniMoPipeline, pose: torch.Tensor) -> torch.Tensor:
    """The issue's order, frame by frame: the morpher on the neutral source with the frame's
    expression, then the rotator on that expressed source; the alpha is the neutral
    source's, warped by the frame's flow."""
    source, alpha = pipe.prepare_source(character(), SIZE, SIZE, (1.0, 1.0, 1.0))
    frames = []
    with torch.no_grad():
        for p in pose.split(1):
            expressed = pipe.expression_morpher(source, p[:, :EXPRESSION_DIM]).image
            animation = pipe.animate(pipe.encode_source(expressed), p)
            frames.append(pipe.frames_from_animation(animation, alpha))
    return torch.cat(frames).permute(0, 2, 3, 1).numpy()


def test_the_morpher_draws_on_the_neutral_source_then_the_head_turns():
    plain = make_pipeline()
    pipe = with_morpher(plain, drawing(seeded_morpher(**TINY)))
    # Held, repeated and alternating expressions, across and within batches of 3.
    pose = pose_sequence([0, 0, 1, 1, 2, 0, 3, 3])
    frames = animate(pipe, pose, batch_size=3)
    assert frames.shape == (8, SIZE, SIZE, 4)
    assert np.abs(frames - reference_frames(pipe, pose)).max() < 1e-5
    assert np.abs(frames - animate(plain, pose)).max() > 0.1  # the morpher did draw
    single = animate(pipe, pose, batch_size=1)
    assert np.abs(single - frames).max() < 1e-5


def test_the_morpher_runs_once_per_expression_change(monkeypatch):
    pipe = make_pipeline(seeded_morpher(**TINY))
    counts = CountingMorpher(pipe.expression_morpher, monkeypatch)
    encodes = []
    original_encode = pipe.warping_network.encode_source
    monkeypatch.setattr(
        pipe.warping_network,
        "encode_source",
        lambda image: encodes.append(len(image)) or original_encode(image),
    )

    def run(expression_ids, batch_size):
        counts.calls = counts.expressions = 0
        encodes.clear()
        animate(pipe, pose_sequence(expression_ids), batch_size=batch_size)
        return counts.calls, counts.expressions, encodes[:]

    # Two frames, one frame a batch: the same expression once, two expressions twice.
    assert run([0, 0], batch_size=1) == (1, 1, [1])
    assert run([0, 1], batch_size=1) == (2, 2, [1, 1])
    # In one batch the distinct expressions are drawn and encoded together.
    assert run([0, 1], batch_size=8) == (1, 2, [2])
    assert run([0, 1, 0, 1, 1], batch_size=8) == (1, 2, [2])
    # The last frame's expression carries over to the next batch.
    assert run([0, 0, 0, 1, 1, 1], batch_size=2) == (2, 2, [1, 1])
    assert run([0, 0, 0, 0, 0, 0, 0], batch_size=3) == (1, 1, [1])


def test_lora_adapters_leave_the_morpher_alone(tmp_path):
    pytest.importorskip("peft")
    from animo_hf.lora import ADAPTED_COMPONENTS, add_lora, save_lora_weights

    trained = make_pipeline()
    networks = {name: getattr(trained, name) for name in ADAPTED_COMPONENTS}
    add_lora(networks, rank=2)
    generator = torch.Generator().manual_seed(1)
    for network in networks.values():
        for name, parameter in network.named_parameters():
            if "lora_B" in name:
                parameter.data.normal_(0.0, 0.05, generator=generator)
    save_lora_weights(networks, tmp_path / "adapter")
    pipe = make_pipeline(drawing(seeded_morpher(**TINY)))
    morpher_weights = {k: v.clone() for k, v in pipe.expression_morpher.state_dict().items()}
    pose = pose_sequence([0, 1])
    before = animate(pipe, pose)
    pipe.load_lora_weights(tmp_path / "adapter")
    assert np.abs(animate(pipe, pose) - before).max() > 1e-3  # the rotator changed
    state = pipe.expression_morpher.state_dict()
    assert state.keys() == morpher_weights.keys()
    assert all(torch.equal(state[k], v) for k, v in morpher_weights.items())


def test_animate_step_time_with_and_without_a_morpher():
    """Not a timed test: prints the per-frame step at 256², batch 1, on the shipped rotator
    (``pytest -s`` shows it): without a morpher; with a default-size one when every frame's
    expression changes (morpher + source encoding + animate); with the expression held."""
    if not (SHIPPED / "model_index.json").is_file():
        pytest.skip("weights/animo not found")
    plain = AniMoPipeline.from_pretrained(SHIPPED)
    pipe = with_morpher(plain, seeded_morpher())
    source, _ = plain.prepare_source(character(), 256, 256, (1.0, 1.0, 1.0))
    changing = pose_sequence(list(range(12)))  # a new expression every frame
    held = pose_sequence([0] * 12)  # the head moves, the expression stays
    runs = {  # (pipeline, its source cache, poses)
        "without": (plain, AniMoSourceCache(plain, source), changing),
        "changing": (pipe, AniMoSourceCache(pipe, source), changing),
        "held": (pipe, AniMoSourceCache(pipe, source), held),
    }
    timings = {name: [] for name in runs}
    with torch.no_grad():
        for repeat in range(2):  # the first round warms up
            for frame in range(len(changing)):  # the three interleaved, frame by frame
                for name, (model, sources, poses) in runs.items():
                    pose = poses[frame : frame + 1]
                    start = time.perf_counter()
                    model.animate(sources(pose), pose)
                    if repeat:
                        timings[name].append(time.perf_counter() - start)
    medians = {name: 1000 * float(np.median(times)) for name, times in timings.items()}
    print(
        f"\nanimate step, 256², batch 1, {torch.get_num_threads()} threads (median ms): "
        + ", ".join(f"{name} {ms:.1f} ms ({1000 / ms:.0f} FPS)" for name, ms in medians.items())
    )
    assert all(ms > 0 for ms in medians.values())
