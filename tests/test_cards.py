"""Dataset and model cards rendered from Jinja templates (no Blender, no network)."""

import logging
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from huggingface_hub import DatasetCard, ModelCard

from animeceleb.pose import POSE_NAMES, POSE_RANGES, TARGET_MORPH_NAMES
from animeceleb.sampling import GROUPS
from animo_hf.model_card import animo_model_card
from dataset_builder.dataset_card import (
    ModelLicence,
    dataset_card,
    read_model_licences,
    write_card,
)
from dataset_builder.styles import STYLES

REPO = Path(__file__).resolve().parents[1]
INFO = {"features": [{"name": "pose", "list": "float32"}], "splits": []}
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{%|%\}")


def _procedural(n: int, license: str = "cc-by-4.0") -> list[ModelLicence]:
    return [
        ModelLicence(f"proc-{i:05d}", "procedural", license, f"procedural character, seed {i}")
        for i in range(n)
    ]


def _third_party(model_id: str, license: str, attribution: str = "Mika by Someone"):
    return ModelLicence(model_id, "vrm", license, attribution)


def _attribution_lines(text: str) -> list[str]:
    section = text.split("## Licence and attribution", 1)[1].split("## Citation", 1)[0]
    return [line for line in section.splitlines() if line.startswith("- ")]


def test_dataset_card_yaml_parses_back(tmp_path):
    path = tmp_path / "README.md"
    write_card(path, {"train": 1200, "test": 30}, INFO, _procedural(3), True, resolution=256)
    text = path.read_text(encoding="utf-8")
    assert not PLACEHOLDER.search(text)
    assert "## Intended use" in text and "3 character model(s): 3 procedural." in text
    card = DatasetCard.load(path)
    data = card.data
    assert data.license == "cc-by-4.0" and data.get("license_name") is None
    assert data.pretty_name == "AnimeCeleb-HF" and data.resolution == 256
    assert data.task_categories == ["image-to-image"]
    assert "head-reenactment" in data.tags
    assert data.size_categories == ["1K<n<10K"]
    assert data.configs == [
        {
            "config_name": "default",
            "data_files": [
                {"split": "train", "path": "data/train-*"},
                {"split": "test", "path": "data/test-*"},
            ],
        }
    ]
    assert data.dataset_info == INFO
    assert data.pose_dims == list(POSE_NAMES)
    assert data.pose_ranges == [list(r) for r in POSE_RANGES]
    assert data.target_morphs == list(TARGET_MORPH_NAMES)
    assert data.styles == list(STYLES) and data.groups == list(GROUPS)
    body = card.text
    assert body.startswith("\n# AnimeCeleb-HF\n")
    assert "![contact sheet](samples/contact_sheet.png)" in body
    assert "train: 1200 images, test: 30 images." in body
    assert "(procedural / vrm / gltf / fbx / blend / animeceleb)" in body
    assert "official" not in body
    assert f"| 19 | `{POSE_NAMES[19]}` | [-20, 20] |" in body
    assert len(re.findall(r"^\| \d+ \| `", body, flags=re.M)) == len(POSE_NAMES)
    assert "@inproceedings{kim2022animeceleb," in body
    assert 'load_dataset("path/or/repo-id", split="train")' in body
    no_sheet = dataset_card({"train": 1}, INFO, _procedural(1), False, resolution=256)
    assert "contact_sheet" not in no_sheet.text


@pytest.mark.parametrize(
    ("licenses", "expected"),
    [
        (["cc-by-4.0"], "cc-by-4.0"),
        (["cc0-1.0", "cc0-1.0"], "cc0-1.0"),
        (["cc-by"], "other"),  # VRM 0.x's unversioned name
        (["cc-by-4.0", "cc0-1.0"], "other"),  # mixed
        (["https://example.com/licence"], "other"),
    ],
)
def test_card_licence_is_a_hub_id_or_other(licenses, expected):
    models = [_third_party(f"vrm-{i}", lic) for i, lic in enumerate(licenses)]
    data = dataset_card({"train": 1}, INFO, models, False, resolution=256).data
    assert data.license == expected
    if expected == "other":
        assert data.license_name == "per-example-licences"
    else:
        assert data.get("license_name") is None


def test_attributions_are_grouped():
    models = _procedural(500) + [
        _third_party("vrm-b", "cc-by", "Zed by Bob"),
        _third_party("vrm-a", "cc0-1.0", "Ann by Alice"),
    ]
    lines = _attribution_lines(str(dataset_card({"train": 1}, INFO, models, False, resolution=256)))
    assert lines == [
        "- AnimeCeleb-HF procedural characters (500 models, cc-by-4.0)",
        "- Ann by Alice (`vrm-a`, vrm, licence: cc0-1.0)",
        "- Zed by Bob (`vrm-b`, vrm, licence: cc-by)",
    ]
    one = _attribution_lines(
        str(dataset_card({"train": 1}, INFO, _procedural(1), False, resolution=256))
    )
    assert one == ["- AnimeCeleb-HF procedural characters (1 model, cc-by-4.0)"]


def test_multiline_attribution_stays_one_list_item():
    models = [_third_party("vrm-x", "cc-by-4.0", "Mika\nby  Someone")]
    lines = _attribution_lines(str(dataset_card({"train": 1}, INFO, models, False, resolution=256)))
    assert lines == ["- Mika by Someone (`vrm-x`, vrm, licence: cc-by-4.0)"]


def test_unknown_licence_warns_and_is_other(caplog):
    models = _procedural(2) + [_third_party("gltf-abc", "unknown"), _third_party("vrm-d", "mit")]
    with caplog.at_level(logging.WARNING, logger="dataset_builder.dataset_card"):
        card = dataset_card({"train": 1}, INFO, models, False, resolution=256)
    assert card.data.license == "other"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "gltf-abc" in warnings[0] and "vrm-d" not in warnings[0]
    assert "**1 model(s) came with no licence** (gltf-abc)" in card.text
    only_unknown = [_third_party("vrm-u", "unknown")]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dataset_builder.dataset_card"):
        assert (
            dataset_card({"train": 1}, INFO, only_unknown, False, resolution=256).data.license
            == "other"
        )
    assert "vrm-u" in caplog.text


def test_read_model_licences_one_per_model(tmp_path):
    def shard(name, rows):
        table = pa.table(
            {
                "model_id": [r[0] for r in rows],
                "source": [r[1] for r in rows],
                "license": [r[2] for r in rows],
                "attribution": [r[3] for r in rows],
                "pose": [[0.0] * 20 for _ in rows],
            }
        )
        pq.write_table(table, tmp_path / name)

    proc = ("proc-1", "procedural", "cc-by-4.0", "seed 1")
    vrm = ("vrm-9", "vrm", "cc-by", "Mika")
    shard("train-00000-of-00002.parquet", [proc, proc, vrm])
    shard("train-00001-of-00002.parquet", [vrm, vrm])
    models = read_model_licences(tmp_path.glob("*.parquet"))
    assert models == [ModelLicence(*proc), ModelLicence(*vrm)]
    assert read_model_licences([]) == []


ANIMO_VALUES = {
    "model_name": "AniMo-test",
    "repo_id": "someone/animo-test",
    "config_summary": "base_channels 32",
    "resolution": 256,
    "speed": None,
    "training": None,
    "evaluation": None,
    "limitations": [],
}
TRAINING = {
    "data": "someone/animeceleb-hf, 500 procedural characters",
    "stages": "| # | stage | steps |\n|---|---|---|\n| 1 | warping path | 2500 |",
    "notes": ["Times were measured on one H200."],
    "commands": "animeceleb-train --config training_history.json",
    "licences": "cc-by-4.0",
}


def test_animo_card_renders_and_parses_back(tmp_path):
    card = animo_model_card(datasets=["someone/animeceleb-hf"], **ANIMO_VALUES)
    assert not PLACEHOLDER.search(str(card))
    card.save(tmp_path / "README.md")
    loaded = ModelCard.load(tmp_path / "README.md")
    assert loaded.data.library_name == "diffusers"
    assert loaded.data.pipeline_tag == "image-to-image"
    assert loaded.data.license == "apache-2.0"
    assert loaded.data.datasets == ["someone/animeceleb-hf"]
    assert "animo" in loaded.data.tags and loaded.data.get("base_model") is None
    text = loaded.text
    assert text.startswith("\n# AniMo-test: AniMo cross-domain head reenactment")
    assert 'AniMoPipeline.from_pretrained("someone/animo-test")' in text
    assert "Resolution: 256²" in text and "config: base_channels 32" in text
    assert "FID 16.05, SSIM 0.738" in text  # the paper's reference figures stay
    assert "@inproceedings{kim2022animeceleb," in text
    no_dataset = animo_model_card(**ANIMO_VALUES)
    assert no_dataset.data.get("datasets") is None


def test_animo_card_untrained_and_unevaluated_says_so():
    text = animo_model_card(**ANIMO_VALUES).text
    assert "These weights are untrained" in text
    assert "Not trained:" in text and "Not evaluated:" in text
    assert "|---|" not in text  # no table of invented figures
    assert "Speed (animate step, source cached, batch 1): not measured." in text
    assert "Character licences of the training data" not in text


def test_animo_card_trained_and_evaluated():
    table = "| method | ssim |\n|---|---|\n| AniMo | 0.83 |"
    values = dict(
        ANIMO_VALUES,
        training=TRAINING,
        evaluation=table,
        speed="30 FPS on a 2-core x86_64 CPU",
        limitations=["Trained on procedural characters only."],
    )
    text = animo_model_card(datasets=["someone/animeceleb-hf"], **values).text
    assert "untrained" not in text and "Not evaluated" not in text
    assert table in text
    assert "- Data: someone/animeceleb-hf, 500 procedural characters." in text
    assert TRAINING["stages"] in text and "\nTimes were measured on one H200.\n" in text
    assert "```bash\nanimeceleb-train --config training_history.json\n```" in text
    assert "- Trained on procedural characters only.\n" in text
    assert "Character licences of the training data: cc-by-4.0." in text
    assert "30 FPS on a 2-core x86_64 CPU" in text


def test_animo_card_missing_or_unknown_values_raise():
    values = dict(ANIMO_VALUES)
    del values["repo_id"], values["evaluation"]
    with pytest.raises(ValueError, match=r"'evaluation', 'repo_id'"):
        animo_model_card(**values)
    with pytest.raises(ValueError, match="fid"):
        animo_model_card(**ANIMO_VALUES, fid=16.0)
    partial = {k: v for k, v in TRAINING.items() if k != "stages"}
    with pytest.raises(ValueError, match="stages"):
        animo_model_card(**dict(ANIMO_VALUES, training=partial))
    with pytest.raises(ValueError, match="evaluation must be None or Markdown"):
        animo_model_card(**dict(ANIMO_VALUES, evaluation={"ssim": 1.0}))


def test_animo_model_card_imports_no_dataset_builder():
    code = (
        "import sys, animo_hf.model_card; "
        "print(sorted(m for m in ('dataset_builder', 'bpy', 'ray', 'datasets') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _committed_markdown() -> list[Path]:
    skip = {".venv", ".cache", ".git", "templates", "outputs", "node_modules"}
    return sorted(
        p
        for p in REPO.rglob("*.md")
        if not skip.intersection(p.relative_to(REPO).parts[:-1])
        and not any(part.endswith(".egg-info") for part in p.parts)
    )


def test_no_unfilled_placeholders_in_committed_markdown():
    files = _committed_markdown()
    assert REPO / "README.md" in files
    for path in files:
        text = path.read_text(encoding="utf-8")
        prose = re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.M | re.S)  # fenced code
        prose = re.sub(r"`[^`\n]*`", "", prose)  # inline code
        found = re.findall(r"\{\{.*?\}\}|\{%.*?%\}", prose, flags=re.S)
        assert not found, f"{path.relative_to(REPO)}: unfilled template placeholder(s) {found}"


def test_templates_ship_as_package_data():
    from animo_hf.model_card import TEMPLATE_PATH as MODEL_TEMPLATE
    from dataset_builder.dataset_card import TEMPLATE_PATH as DATASET_TEMPLATE

    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    for template, package in ((DATASET_TEMPLATE, "dataset_builder"), (MODEL_TEMPLATE, "animo_hf")):
        assert template.is_file() and template.parent.name == "templates"
        assert template.parent.parent == REPO / package
        assert f'{package} = ["templates/*.md"]' in pyproject
