"""The expression stage (issue 37): ExpressionMorpher's crop, its start as a near copy, save/load
and strict loading, exportability; then AniMoPipeline with the morpher as an optional component:
saved and loaded with it or without it, the morpher on the neutral source before the head turns,
and one morpher run per distinct expression."""

import io
import json
import shutil
import warnings
from pathlib import Path

import pytest
import torch

from animeceleb.pose import EXPRESSION_DIM
from animo_hf import (
    ExpressionMorpher,
    MorpherOutput,
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
