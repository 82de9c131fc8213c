"""The weights the project ships (``weights/``): each folder loads in a fresh process through its
library's ``from_pretrained``, and AniMo turns the head of a character it never trained on the
way it is told (the shipped pose regressor reads the driven yaw's sign right)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from animeceleb.sampling import identity_split
from dataset_builder.sources import procedural_sources
from training.animo.configuration_animo import TrainConfig
from training.cards import evaluation_values
from training.history import history_table, read_history

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
HELD_OUT_SEED = 13  # procedural-000013 is a test-split identity
YAWS = (-15.0, 15.0)

TURN_THE_HEAD = """
import json, sys
import numpy as np, PIL.Image, torch
from animo_hf import AniMoPipeline
from training.data import network_input
from training.regressor import load_regressor, predict_poses

pipe = AniMoPipeline.from_pretrained(sys.argv[1])
if sys.argv[2] != "-":
    pipe.load_lora_weights(sys.argv[2])
pipe.set_progress_bar_config(disable=True)
regressor = load_regressor(sys.argv[3])
source = PIL.Image.open(sys.argv[4])
poses = torch.zeros(len(sys.argv) - 5, 20)
poses[:, 17] = torch.tensor([float(y) for y in sys.argv[5:]])
size = regressor.config.image_size
frames = pipe(source, pose=poses, height=size, width=size, output_type="np").frames
rgba = torch.from_numpy(np.asarray(frames, dtype=np.float32)).permute(0, 3, 1, 2)
if rgba.shape[1] == 3:
    rgba = torch.cat([rgba, torch.ones_like(rgba[:, :1])], dim=1)
images, _ = network_input(rgba)
print(json.dumps(predict_poses(regressor, images)[:, 17].tolist()))
"""


def test_every_shipped_folder_has_a_card_with_hub_metadata():
    folders = sorted(p for p in WEIGHTS.iterdir() if p.is_dir())
    assert {p.name for p in folders} >= {"animo", "pose-regressor"}
    for folder in folders:
        card = ModelCard.load(folder / "README.md")
        assert card.data.license and card.data.library_name in ("diffusers", "transformers")
        assert "untrained" not in card.text.lower(), folder
        assert not list(folder.rglob("*.bin")) and not list(folder.rglob("*.pkl")), folder


@pytest.mark.parametrize("adapter", [None, "animo-lora"])
def test_shipped_animo_turns_a_held_out_characters_head(tmp_path, adapter):
    """Milestone 8, and with the shipped LoRA adapter fused into it."""
    from dataset_builder.worker import run_in_blender

    (source,) = procedural_sources(1, HELD_OUT_SEED)
    assert identity_split(source.model_id) == "test"
    (png,) = run_in_blender("render_poses", source, [[0.0] * 20], "cel", 128)
    neutral = tmp_path / "neutral.png"
    neutral.write_bytes(png)
    lora = str(WEIGHTS / adapter) if adapter else "-"
    command = [sys.executable, "-c", TURN_THE_HEAD, str(WEIGHTS / "animo"), lora]
    command += [str(WEIGHTS / "pose-regressor"), str(neutral), *map(str, YAWS)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    read = json.loads(result.stdout.strip().splitlines()[-1])
    for driven, yaw in zip(YAWS, read, strict=True):
        assert yaw * driven > 0 and abs(yaw) > 5, f"driven yaw {driven}, read {yaw:.1f}"


def test_the_shipped_baseline_loads_as_float32_and_animates():
    code = (
        "import sys, torch; from animo_hf import PIRendererGenerator; "
        "g = PIRendererGenerator.from_pretrained(sys.argv[1]); "
        "source = g.encode_source(torch.zeros(1, 3, 256, 256)); "
        "out = g.animate(source, torch.zeros(2, 20)).image; "
        "print({p.dtype for p in g.parameters()}, tuple(out.shape), bool(out.isfinite().all()))"
    )
    folder = WEIGHTS / "pirenderer-baseline"
    result = subprocess.run(
        [sys.executable, "-c", code, str(folder)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "{torch.float32} (2, 3, 256, 256) True"


@pytest.mark.parametrize("name", ["animo", "animo-lora", "pirenderer-baseline"])
def test_the_shipped_history_is_each_stage_of_one_run_after_another(name):
    """Each stage's config loads as a run config whose stages it is, in order; a run's stages
    follow each other step by step, and a later run starts from the weights an earlier one
    exported."""
    history = read_history(WEIGHTS / name)
    assert history.stages, f"{name}: no training_history.json"
    runs: dict[str, TrainConfig] = {}
    for stage in history.stages:
        config = TrainConfig.from_dict(stage["config"], where=name)
        run = runs.setdefault(stage["run"], config)
        assert config == run, f"{name}: run {stage['run']}'s stages carry different configs"
        (match,) = [s for s in config.run_stages() if s.start == stage["start_step"]]
        assert (match.label, match.config.steps) == (stage["stage"], stage["steps"])
        weights = match.loss.to_dict()
        # a term added since the stage trained is off in its config
        assert stage["loss"] == {k: v for k, v in weights.items() if k in stage["loss"]}
        assert not any(v for k, v in weights.items() if k not in stage["loss"])
        assert stage["trains"] == match.config.trains
    outputs = [config.checkpoints.output_dir for config in runs.values()]
    for earlier, later in zip(outputs, list(runs.values())[1:], strict=False):
        assert later.model.init_weights == f"{earlier}/weights"
    total = sum(config.total_steps for config in runs.values())
    assert total == sum(stage["steps"] for stage in history.stages)


@pytest.mark.parametrize("name", ["animo", "animo-lora", "pirenderer-baseline"])
def test_the_shipped_card_shows_its_history_and_evaluation(name):
    """The card's training section and results are rendered from the folder's own files."""
    folder = WEIGHTS / name
    text = (folder / "README.md").read_text(encoding="utf-8")
    history = read_history(folder)
    assert history_table(history.stages) in text
    assert all(note in text for note in history.notes)
    assert evaluation_values(folder) in text
    assert "python -m dataset_builder build" in text
    assert "animeceleb-train --config training_history.json" in text
