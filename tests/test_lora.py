"""LoRA adapters: fusing one reproduces the adapted networks, adapters on other weights and files
that are not adapters are refused in one line, and a LoRA run trains only its adapters, exports
one that turns its base into the run's weights, with the history of both, and ships it alone."""

import json
import re
from pathlib import Path

import pytest
import safetensors
import safetensors.torch
import torch
from peft.tuners.tuners_utils import BaseTunerLayer
from test_training import records, tiny_config  # the tests folder is on sys.path

from animo_hf import AniMoPipeline, EditingNetwork, MotionNetwork, PoseMapping, WarpingNetwork
from animo_hf.lora import ADAPTED_COMPONENTS, add_lora, save_lora_weights, weights_fingerprint
from training.animo.configuration_animo import TrainConfig
from training.animo.train import Trainer
from training.history import HISTORY_FILE, read_history


def random_pipeline(seed: int) -> AniMoPipeline:
    torch.manual_seed(seed)
    return AniMoPipeline(PoseMapping(), MotionNetwork(), WarpingNetwork(), EditingNetwork())


def frames(pipe: AniMoPipeline, source: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return pipe.animate(pipe.encode_source(source), pose).image


@pytest.fixture(scope="module")
def adapted(tmp_path_factory):
    """A random pipeline's base folder, an adapter of rank 4 on every adapted network with
    random (non-zero) updates, its folder, and the adapted pipeline itself."""
    root = tmp_path_factory.mktemp("lora")
    pipe = random_pipeline(0)
    pipe.save_pretrained(root / "base")
    networks = {name: getattr(pipe, name) for name in ADAPTED_COMPONENTS}
    bases = {name: weights_fingerprint(network) for name, network in networks.items()}
    add_lora(networks, rank=4)
    assert {name: weights_fingerprint(n) for name, n in networks.items()} == bases
    generator = torch.Generator().manual_seed(1)
    for network in networks.values():
        for name, parameter in network.named_parameters():
            assert parameter.requires_grad == ("lora_" in name), name
            if "lora_B" in name:  # zero at first: draw an update to see
                parameter.data.normal_(0.0, 0.05, generator=generator)
    save_lora_weights(networks, root / "adapter")
    return root, pipe


def test_fusing_an_adapter_draws_what_the_adapted_networks_draw(adapted):
    root, pipe = adapted
    source, pose = torch.rand(2, 3, 64, 64) * 2 - 1, torch.zeros(2, 20)
    pose[:, 17] = torch.tensor([-0.5, 0.5])  # yaw
    base = AniMoPipeline.from_pretrained(root / "base")
    unadapted = frames(base, source, pose)
    base.load_lora_weights(root / "adapter")
    fused = frames(base, source, pose)
    expected = frames(pipe, source, pose)
    assert (expected - unadapted).abs().max() > 0.05  # the adapter changes the frames
    torch.testing.assert_close(fused, expected, atol=1e-4, rtol=0)
    layers = [m for n in ADAPTED_COMPONENTS for m in getattr(base, n).modules()]
    assert not any(isinstance(layer, BaseTunerLayer) for layer in layers)  # plain, as fast
    half = AniMoPipeline.from_pretrained(root / "base")
    half.load_lora_weights(root / "adapter", lora_scale=0.5)
    between = frames(half, source, pose)
    assert 0 < (between - unadapted).abs().mean() < (fused - unadapted).abs().mean()


def test_an_adapter_on_other_weights_or_a_file_that_is_not_one_is_refused(adapted, tmp_path):
    root, _ = adapted
    other = random_pipeline(5)
    before = frames(other, torch.zeros(1, 3, 64, 64), torch.zeros(1, 20))
    with pytest.raises(ValueError, match=r"adapter was trained on motion_network weights \w+, "):
        other.load_lora_weights(root / "adapter")
    torch.testing.assert_close(frames(other, torch.zeros(1, 3, 64, 64), torch.zeros(1, 20)), before)
    plain = tmp_path / "plain"
    plain.mkdir()
    safetensors.torch.save_file({"w": torch.zeros(2)}, plain / "pytorch_lora_weights.safetensors")
    with pytest.raises(ValueError, match=r"plain/pytorch_lora_weights.safetensors: expected an An"):
        other.load_lora_weights(plain)
    misfit = tmp_path / "misfit"  # the right metadata, a tensor of another shape
    tensors = safetensors.torch.load_file(root / "adapter" / "pytorch_lora_weights.safetensors")
    with safetensors.safe_open(
        str(root / "adapter" / "pytorch_lora_weights.safetensors"), "pt"
    ) as f:
        metadata = f.metadata()
    key = next(k for k in tensors if k.startswith("editing_network.") and "lora_A" in k)
    tensors[key] = torch.zeros(1, *tensors[key].shape[1:])
    misfit.mkdir()
    safetensors.torch.save_file(tensors, misfit / "pytorch_lora_weights.safetensors", metadata)
    base = AniMoPipeline.from_pretrained(root / "base")
    before = frames(base, torch.zeros(1, 3, 64, 64), torch.zeros(1, 20))
    with pytest.raises(ValueError, match=r"misfit/.*: editing_network: the adapter does not fit"):
        base.load_lora_weights(misfit)
    layers = [m for n in ADAPTED_COMPONENTS for m in getattr(base, n).modules()]
    assert not any(isinstance(layer, BaseTunerLayer) for layer in layers)
    torch.testing.assert_close(frames(base, torch.zeros(1, 3, 64, 64), torch.zeros(1, 20)), before)
    cut = tmp_path / "cut"
    cut.mkdir()
    data = (root / "adapter" / "pytorch_lora_weights.safetensors").read_bytes()
    (cut / "pytorch_lora_weights.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut/pytorch_lora_weights.safetensors is truncated"):
        other.load_lora_weights(cut)
    with pytest.raises(FileNotFoundError, match=r"model folder not found: .*missing"):
        other.load_lora_weights(tmp_path / "missing")


@pytest.fixture(scope="module")
def lora_run(tiny_dataset, tmp_path_factory):
    """A 2-step run's weights (the base), then a 4-step LoRA run of rank 2 from them."""
    root = tmp_path_factory.mktemp("lora-run")
    base_stages = [{"trains": "warp", "steps": 1}, {"steps": 1}]
    base = Trainer(tiny_config(tiny_dataset, root / "base", stages=base_stages)).run()
    config = tiny_config(
        tiny_dataset,
        root / "lora",
        model={"init_weights": str(base), "lora": {"rank": 2}},
        stages=[{"name": "adapters", "steps": 4}],
        optimizer={"learning_rate": 1e-2},
    )
    trainer = Trainer(config)
    trained = [n for n, p in trainer.model.named_parameters() if p.requires_grad]
    return base, config, trained, trainer.run()


def test_a_lora_run_trains_its_adapters_only_and_exports_one_that_makes_its_weights(lora_run):
    base, config, trained, weights = lora_run
    assert trained and all("lora_" in n for n in trained)
    assert {n.split(".")[0] for n in trained} == {"warping_network", "editing_network"}
    run = config.output_dir
    adapter = run / "lora" / "pytorch_lora_weights.safetensors"
    assert adapter.stat().st_size < 0.2 * sum(
        f.stat().st_size for f in weights.glob("*/*.safetensors")
    )
    pipe = AniMoPipeline.from_pretrained(base)
    pipe.load_lora_weights(adapter.parent)
    fused = AniMoPipeline.from_pretrained(weights)
    untouched = AniMoPipeline.from_pretrained(base)
    for name in ("pose_mapping", "motion_network"):
        for key, value in getattr(fused, name).state_dict().items():
            assert torch.equal(value, getattr(untouched, name).state_dict()[key]), key
    changed = 0.0
    for name in ("warping_network", "editing_network"):
        ours, theirs = getattr(pipe, name).state_dict(), getattr(fused, name).state_dict()
        assert ours.keys() == theirs.keys()
        for key in ours:
            torch.testing.assert_close(ours[key], theirs[key], atol=1e-5, rtol=0)
            changed += float((theirs[key] - getattr(untouched, name).state_dict()[key]).abs().sum())
    assert changed > 0  # the adapters trained
    assert json.loads((run / "config.json").read_text())["model"]["lora"]["rank"] == 2
    assert Trainer(config).step == config.total_steps  # resumes at the end, adapters and all
    # the fused weights and the adapter alone carry the history of both: the base's stages,
    # then the adapter's
    history = read_history(base).stages
    assert [(s["run"], s["trains"], s["steps"]) for s in history] == [
        ("base", "warp", 1),
        ("base", "full", 1),
    ]
    for folder in (weights, run / "lora"):
        stages = read_history(folder).stages
        assert stages[:2] == history
        assert [(s["run"], s["stage"], s["steps"]) for s in stages[2:]] == [("lora", "adapters", 4)]
        assert TrainConfig.from_dict(stages[-1]["config"]) == config
    assert [r["step"] for r in records(run) if r.get("stage_end")] == [4]


def test_a_lora_run_ships_its_adapter_alone_with_a_card_and_evaluates_on_its_base(
    lora_run, tiny_dataset, tmp_path, capsys
):
    from huggingface_hub import ModelCard

    from training.evaluate import main as evaluate
    from training.publish import main as publish

    base, config, _, weights = lora_run
    scores = {}
    for name, extra in (("fused", ["--weights", str(weights)]), ("adapter", [])):
        if not extra:
            extra = ["--weights", str(base), "--lora", str(config.output_dir / "lora")]
        out = tmp_path / name
        args = ["--dataset", str(tiny_dataset), "--resolution", "64", "--output", str(out)]
        assert evaluate([*args, *extra]) == 0
        scores[name] = json.loads((out / "results.json").read_text())
    assert scores["adapter"]["setup"]["LoRA adapter (fused)"].endswith("lora")
    ours, theirs = (scores[k]["self-reenactment"]["AniMo"]["rotated"] for k in ("adapter", "fused"))
    assert ours == pytest.approx(theirs, rel=1e-3)
    out = tmp_path / "shipped"
    command = ["--run", str(config.output_dir), "--out", str(out), "--dtype", "float16"]
    command += ["--evaluation", str(tmp_path / "adapter"), "--data-command", "build"]
    command += ["--base-repo-id", "org/animo"]
    assert publish([*command, "--repo-id", "org/animo"]) == 2  # an adapter under its base's id
    assert "--repo-id org/animo: the adapter's repository must differ" in capsys.readouterr().err
    assert not out.exists()
    assert publish(command) == 0  # the card names org/animo-lora
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "evaluation_results.json",
        "evaluation_results.md",
        "pytorch_lora_weights.safetensors",
        HISTORY_FILE,
    ]
    card = ModelCard.load(out / "README.md")
    assert card.data.base_model == "org/animo" and "lora" in card.data.tags
    assert 'from_pretrained("org/animo")\npipe.load_lora_weights("org/animo-lora")' in card.text
    assert "rank 2 on every convolution and linear layer of the warping and editing networks" in (
        " ".join(card.text.split())
    )
    with safetensors.safe_open(str(out / "pytorch_lora_weights.safetensors"), "pt") as handle:
        assert {handle.get_tensor(k).dtype for k in handle.keys()} == {torch.float16}  # noqa: SIM118
    pipe = AniMoPipeline.from_pretrained(base)
    pipe.load_lora_weights(out)  # the float16 adapter onto the float32 base it was trained on
    shipped = read_history(out).stages
    assert shipped == read_history(config.output_dir / "lora").stages
    assert TrainConfig.from_dict(shipped[-1]["config"]).model.lora.rank == 2


def adapter_tensors(folder: Path) -> dict[str, torch.Tensor]:
    return safetensors.torch.load_file(folder / "pytorch_lora_weights.safetensors")


def further_config(config: TrainConfig, out: Path, **model) -> TrainConfig:
    """``config`` into ``out``, the adapter it trained trained further, with ``model`` fields
    changed."""
    data = config.to_dict()
    data["checkpoints"]["output_dir"] = str(out)
    data["model"]["lora"]["init"] = str(config.output_dir / "lora")
    for key, value in model.items():
        if isinstance(value, dict):
            data["model"][key] = {**data["model"][key], **value}
        else:
            data["model"][key] = value
    return TrainConfig.from_dict(data)


def test_a_lora_run_can_train_a_saved_adapter_further_and_refuses_one_that_does_not_fit(
    lora_run, tmp_path
):
    base, config, _, _ = lora_run
    saved = config.output_dir / "lora"
    trainer = Trainer(further_config(config, tmp_path / "further"))
    trainer.accelerator.unwrap_model(trainer.model).save_lora(tmp_path / "start")
    start, trained = adapter_tensors(tmp_path / "start"), adapter_tensors(saved)
    assert start.keys() == trained.keys()
    assert all(torch.equal(start[k], trained[k]) for k in trained)  # not the zero update
    assert any(bool(trained[k].abs().sum()) for k in trained if "lora_B" in k)
    wider = further_config(config, tmp_path / "wider", lora={"rank": 4})
    with pytest.raises(ValueError, match=r"lora_weights.safetensors: .*rank 2.*rank 4"):
        Trainer(wider)
    other_base = tmp_path / "other-base"
    random_pipeline(1).save_pretrained(other_base)
    elsewhere = further_config(config, tmp_path / "elsewhere", init_weights=str(other_base))
    with pytest.raises(ValueError, match=r"the adapter was trained on warping_network weights"):
        Trainer(elsewhere)


def test_a_run_training_a_saved_adapter_further_carries_that_adapter_s_history(lora_run, tmp_path):
    """The adapter a run starts from (``model.lora.init``) was trained on the run's base: the
    run's history is that adapter's (the base's stages, then the adapter's), then its own."""
    _, config, _, _ = lora_run
    further = further_config(config, tmp_path / "further")
    further = TrainConfig.from_dict(
        {**further.to_dict(), "stages": [{"name": "further", "steps": 1}]}
    )
    weights = Trainer(further).run()
    adapter = read_history(config.output_dir / "lora").stages
    for folder in (weights, further.output_dir / "lora"):
        stages = read_history(folder).stages
        assert [(s["run"], s["stage"]) for s in stages] == [
            *[(s["run"], s["stage"]) for s in adapter],
            ("further", "further"),
        ], folder.name
        assert stages[: len(adapter)] == adapter


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"model": {"lora": {"rank": 4}}},
            "config model.lora = {'rank': 4, 'components': ['warping_network', "
            "'editing_network'], 'init': None}: expected null unless name is animo with "
            "init_weights",
        ),
        (
            {"model": {"name": "pirenderer", "init_weights": "w", "lora": {}}},
            "config model.lora = {'rank': 8, ",
        ),
        (
            {"model": {"init_weights": "w", "lora": {"rank": 0}}},
            "config model.lora.rank = 0: expected a positive integer",
        ),
        (
            {"model": {"init_weights": "w", "lora": {"components": ["pose_mapping"]}}},
            "config model.lora.components = ('pose_mapping',): expected a non-empty subset of",
        ),
        (
            {"model": {"init_weights": "w", "lora": {"init": ""}}},
            "config model.lora.init = '': expected null or a folder / Hub repo id",
        ),
        (
            {"model": {"init_weights": "w", "lora_rank": 2}},
            "unknown config field(s) ['model.lora_rank']",
        ),
    ],
)
def test_lora_config_values_out_of_range_are_named(tmp_path, changes, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        tiny_config(Path("data"), tmp_path, **changes)
