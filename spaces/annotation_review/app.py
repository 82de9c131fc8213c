"""Annotation review: look at each source morph of a model beside its neutral render, accept,
change or drop the target annotation proposed, and save the model's annotation for the next
build. Wiring only: the logic is ``dataset_builder.review`` (tested there and in
tests/test_review.py). Renders are made in a Blender worker process the first time a model is
opened, so this app runs where the project's ``render`` extra is installed.

Settings (environment variables; ``--build-dir DIR`` overrides the first):
    REVIEW_BUILD_DIR  the build folder (``python -m dataset_builder build --out DIR``)

Gradio's own variables choose where it serves: ``GRADIO_SERVER_PORT`` (default 7860) and
``GRADIO_SERVER_NAME`` (default 127.0.0.1: this machine only; 0.0.0.0 to reach it from others).
"""

from __future__ import annotations

import argparse
import functools
import os

import gradio as gr

from dataset_builder.annotation_review import TARGET_CHOICES, ReviewError
from dataset_builder.review import BuildReview

COLUMNS = ["source morph", "proposed", "method", "reason", "decision"]

parser = argparse.ArgumentParser(description="Review a build's morph annotations")
parser.add_argument("--build-dir", default=os.environ.get("REVIEW_BUILD_DIR"))
BUILD_DIR = parser.parse_known_args()[0].build_dir
if not BUILD_DIR:
    raise SystemExit("error: no build folder: set REVIEW_BUILD_DIR or pass --build-dir DIR")
try:
    REVIEW = BuildReview(BUILD_DIR)
except ValueError as error:
    raise SystemExit(f"error: {error}") from None


def shown_to_user(fn):
    """A reviewer's mistake (``ReviewError``) becomes a message in the page, not a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ReviewError as error:
            raise gr.Error(str(error), print_exception=False) from None

    return wrapper


def gallery_items(model_id, table):
    _, images = REVIEW.renders(model_id)
    return [(str(images[row[0]]), f"{row[0]} → {row[4]}") for row in table]


@shown_to_user
def open_model(model_id):
    """The model's neutral render, its morphs' renders and the review table (every decision
    first set to the proposed target)."""
    rows = REVIEW.rows(model_id)
    table = [[r.morph, r.proposed, r.method, r.reason, r.proposed] for r in rows]
    neutral, _ = REVIEW.renders(model_id)
    morphs = [r.morph for r in rows]
    message = f"{model_id}: {len(rows)} source morphs; choose a morph to change its target"
    return (
        str(neutral),
        gallery_items(model_id, table),
        table,
        gr.update(choices=morphs, value=morphs[0] if morphs else None),
        message,
    )


@shown_to_user
def choose_morph(model_id, morph, table):
    """The chosen morph's render, what was proposed and why, and its current decision."""
    row = _row(table, morph)
    _, images = REVIEW.renders(model_id)
    why = f"**{row[0]}**: proposed `{row[1]}` ({row[2] or 'no method'}): {row[3]}"
    return str(images[row[0]]), why, row[4]


@shown_to_user
def set_target(model_id, morph, target, table):
    """The table and gallery with ``morph``'s decision set to ``target``."""
    if target not in TARGET_CHOICES:
        raise ReviewError(f"unknown target {target!r}")
    _row(table, morph)
    table = [[*row[:4], target] if row[0] == morph else row for row in table]
    return table, gallery_items(model_id, table)


@shown_to_user
def save(model_id, table):
    return REVIEW.save(model_id, {row[0]: row[4] for row in table})


def clicked_morph(table, event: gr.SelectData):
    return table[event.index][0]


def _row(table, morph):
    for row in table:
        if row[0] == morph:
            return row
    raise ReviewError(f"no source morph {morph!r} in this model; open a model and pick one")


with gr.Blocks(title="Annotation review") as app:
    gr.Markdown(
        "# Annotation review\n"
        f"Build `{REVIEW.build_dir}`. Pick a model: each source morph is rendered alone at 1 "
        "beside the neutral face, with the target morph annotation proposed and why. Accept "
        "(leave it), change the target or choose `none` to drop it, then **Save**: the model's "
        "annotation file is replaced and the same build command renders it again with it."
    )
    with gr.Row():
        model = gr.Dropdown(REVIEW.model_ids, value=None, label="Model")
        message = gr.Markdown()
    with gr.Row():
        with gr.Column(scale=1):
            neutral = gr.Image(label="Neutral", type="filepath", interactive=False, height=256)
            morph = gr.Dropdown([], label="Source morph")
            morph_image = gr.Image(
                label="This morph at 1", type="filepath", interactive=False, height=256
            )
            why = gr.Markdown()
            target = gr.Dropdown(list(TARGET_CHOICES), label="Target morph (none: drop it)")
            save_button = gr.Button("Save", variant="primary")
        with gr.Column(scale=3):
            gallery = gr.Gallery(label="Source morphs → decision", columns=6, allow_preview=False)
            table = gr.Dataframe(headers=COLUMNS, type="array", interactive=False, wrap=True)

    model.input(
        open_model, [model], [neutral, gallery, table, morph, message], api_name="open_model"
    ).then(
        choose_morph, [model, morph, table], [morph_image, why, target], api_visibility="private"
    )
    morph.input(choose_morph, [model, morph, table], [morph_image, why, target], api_name="choose")
    gallery.select(clicked_morph, [table], [morph], api_visibility="private").then(
        choose_morph, [model, morph, table], [morph_image, why, target], api_visibility="private"
    )
    target.input(set_target, [model, morph, target, table], [table, gallery], api_name="set_target")
    save_button.click(save, [model, table], [message], api_name="save")

app.queue(default_concurrency_limit=1)

if __name__ == "__main__":
    # no server_name or server_port: Gradio reads GRADIO_SERVER_NAME and GRADIO_SERVER_PORT
    app.launch(allowed_paths=[str(REVIEW.review_dir)])
