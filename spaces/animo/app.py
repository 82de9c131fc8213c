"""AniMo Space: drive an anime character with your webcam, a video of a person or 20 pose sliders,
on a CPU. Wiring only: the logic is ``animo_hf.demo`` (tested there).

Settings (environment variables):
    ANIMO_MODEL      the pipeline: a local folder or a Hub repo id (default: the project's shipped
                     weights/animo when present, else animeceleb-hf/animo)
    ANIMO_LORA       a LoRA adapter fused into the pipeline: a local folder or a Hub repo id, or
                     none (default, with ANIMO_MODEL not set: the project's weights/animo-lora
                     beside weights/animo, or animeceleb-hf/animo-lora with the Hub's pipeline)
    ANIMO_RESOLUTION the side of the square frames in pixels (default: the size the weights
                     were trained at)
    ANIMO_EXAMPLES   the example characters folder (default: examples/ beside this file)
    ANIMO_MAX_UPLOAD_MB, ANIMO_MAX_VIDEO_SECONDS   upload limits (default 20 MB, 10 s)
    ANIMO_TORCH_THREADS  torch threads per request (default 1: Gradio runs requests on rotating
                     worker threads, where torch's 2-thread parallelism ran 2x slower than one
                     thread on a 2-vCPU machine; two requests at a time use both cores)

Gradio's own variables choose where it serves, as for any Gradio app: ``GRADIO_SERVER_PORT``
(default 7860) and ``GRADIO_SERVER_NAME`` (default 127.0.0.1; a Space sets 0.0.0.0).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import gradio as gr
import numpy as np
import torch

from animeceleb.pose import ANGLE_SLICE, MOUTH_VOWELS, POSE_INDEX, POSE_NAMES
from animo_hf.demo import (
    AniMoDemo,
    DemoInputError,
    SpaceSettings,
    find_example,
    load_examples,
    pose_tables,
)
from animo_hf.image_utils import flatten
from animo_hf.presets import EXPRESSION_PRESETS, POSE_SLIDERS, pose_from_sliders, preset_pose

HERE = Path(__file__).resolve().parent
PLOT_EVERY = 15  # webcam frames between plot updates
CSS = "#animated img, #framed img, #live img { width: 100%; height: 100%; object-fit: contain; }"
SLIDER_GROUPS = {  # accordions of the slider tab, pose dimensions by name
    "Head (degrees)": POSE_NAMES[ANGLE_SLICE],
    "Mouth": tuple(f"mouth_{vowel}" for vowel in MOUTH_VOWELS),
    "Eyes and brows": POSE_NAMES[: POSE_INDEX["mouth_a"]],
}

try:
    SETTINGS = SpaceSettings.from_env(
        os.environ,
        shipped=HERE.parents[1] / "weights" / "animo",
        shipped_lora=HERE.parents[1] / "weights" / "animo-lora",
        examples=HERE / "examples",
    )
    EXAMPLES = load_examples(SETTINGS.examples)
    PIPELINE = SETTINGS.load_pipeline()
except (ValueError, OSError) as error:
    raise SystemExit(f"error: {error}") from None
LIMITS = SETTINGS.limits
torch.set_num_threads(SETTINGS.torch_threads)
demo_logic = AniMoDemo(PIPELINE, limits=LIMITS, resolution=SETTINGS.resolution)


def shown_to_user(fn):
    """A user's mistake (``DemoInputError``) becomes a message in the page, not a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DemoInputError as error:
            raise gr.Error(str(error), print_exception=False) from None

    return wrapper


def timing(milliseconds: float, what: str) -> str:
    return f"**{milliseconds:.1f} ms** per frame on the server ({what})"


def chosen(path, example):
    """The session's character, its framed view and caption: an example as rendered, anything
    else framed like the training data."""
    character = demo_logic.open_character(path, reframe=example is None)
    caption = example.caption if example else "Your image, framed like the training data."
    return character, character, caption


@shown_to_user
def select_character(path):
    return chosen(path, find_example(EXAMPLES, path) if path else None)


@shown_to_user
def select_example(event: gr.SelectData):
    example = EXAMPLES[event.index]
    return chosen(example.path, example)


@shown_to_user
def animate_sliders(character, *values):
    frame = demo_logic.animate_pose(character, pose_from_sliders(values))
    return frame.image, timing(frame.milliseconds, "animation")


def apply_preset(name, *angles):
    return tuple(preset_pose(name, angles)[: ANGLE_SLICE.start].tolist())


@shown_to_user
def animate_video(character, video):
    result = demo_logic.animate_video(character, video)
    angles, expressions = pose_tables(result.poses, np.arange(len(result.poses)) / result.fps)
    text = timing(result.milliseconds_per_frame, "face reading + animation")
    return str(result.path), angles, expressions, text


@shown_to_user
def stream_webcam(character, frame, session):
    session, result = demo_logic.stream_frame(session, character, frame)
    if result is None:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), session
    text = timing(result.milliseconds, "face reading + animation")
    frames, median = len(session.milliseconds), session.median_milliseconds
    text += f"; median of the last {frames} frames: **{median:.1f} ms**"
    if not result.face_found:
        text += " · no face found: holding the last pose"
    plots = (gr.skip(), gr.skip())
    if session.frames % PLOT_EVERY == 1:
        plots = pose_tables(np.stack(session.poses), np.array(session.times))
    return flatten(result.image), text, *plots, session


def set_neutral(session):
    if session is not None:
        session.stream.set_neutral()
    return session


def close_session(session) -> None:
    if session is not None:
        session.close()


with gr.Blocks(title="AniMo: animate an anime character with your face") as app:
    gr.Markdown(
        "# AniMo: animate an anime character with your face\n"
        "Pick a character (or upload one), then drive it with your webcam, a video of a person "
        f"or the pose sliders. Runs on a CPU. Model: `{SETTINGS.model_name}`; trained on the "
        "AnimeCeleb-HF procedural dataset (anime heads rendered in Blender with their 20-d pose "
        "vectors)."
    )
    # The framed character stays on the server, one per session (no image round trip per frame).
    character = gr.State(None, time_to_live=3600)
    session_state = gr.State(None, time_to_live=600, delete_callback=close_session)
    with gr.Row():
        with gr.Column(scale=1):
            gallery = gr.Gallery(
                [(str(example.path), example.label) for example in EXAMPLES],
                label="Example characters: click one",
                columns=3,
                height="auto",
                allow_preview=False,
            )
            upload = gr.UploadButton("Upload your own character", file_types=["image"], size="sm")
            gr.Markdown(
                "An RGBA image (transparent background), or RGB on a plain background: it is "
                "cropped to a square around the character, like the training images."
            )
            framed = gr.Image(
                label="Framed character", type="pil", image_mode="RGBA", format="png", height=300,
                interactive=False,
                elem_id="framed",
            )  # fmt: skip
            caption = gr.Markdown()
        with gr.Column(scale=1), gr.Tabs():
            with gr.Tab("Webcam"):
                webcam = gr.Image(
                    label="Your face", sources=["webcam"], streaming=True, type="numpy"
                )
                neutral = gr.Button("Set neutral (your resting face)")
                live_output = gr.Image(
                    label="Animated character (live)", format="jpeg", height=300, elem_id="live"
                )
            with gr.Tab("Video"):
                video = gr.Video(
                    label=f"A video of a person (≤ {LIMITS.max_video_seconds:g} s, "
                    f"≤ {LIMITS.max_upload_mb:g} MB)",
                    sources=["upload"],
                )
                animate_video_button = gr.Button("Animate with this video", variant="primary")
            with gr.Tab("Sliders"):
                preset = gr.Radio(list(EXPRESSION_PRESETS), label="Preset expression")
                sliders = {
                    s.name: gr.Slider(
                        s.minimum, s.maximum, value=0.0, step=s.step, label=s.name, render=False
                    )
                    for s in POSE_SLIDERS
                }
                for group, names in SLIDER_GROUPS.items():
                    with gr.Accordion(group, open=group != "Eyes and brows"):
                        for name in names:
                            sliders[name].render()
                sliders = list(sliders.values())
        with gr.Column(scale=1):
            output_image = gr.Image(
                label="Animated character", format="png", height=300, elem_id="animated"
            )
            output_video = gr.Video(label="Animated video (MP4, downloadable)")
            time_per_frame = gr.Markdown()
            angles_plot = gr.LinePlot(
                x="time (s)", y="value", color="dimension", label="Head angles (°)"
            )
            expressions_plot = gr.LinePlot(
                x="time (s)", y="value", color="dimension", label="Expressions (0-1)"
            )

    expression_sliders, angle_sliders = sliders[: ANGLE_SLICE.start], sliders[ANGLE_SLICE]
    gallery.select(
        select_example, None, [character, framed, caption], api_visibility="private"
    ).then(
        animate_sliders,
        [character, *sliders],
        [output_image, time_per_frame],
        api_visibility="private",
    )
    upload.upload(
        select_character, [upload], [character, framed, caption], api_name="select_character"
    ).then(
        animate_sliders,
        [character, *sliders],
        [output_image, time_per_frame],
        api_visibility="private",
    )
    gr.on(
        [slider.release for slider in sliders],
        animate_sliders,
        [character, *sliders],
        [output_image, time_per_frame],
        api_name="animate_pose",
        trigger_mode="always_last",
    )
    preset.change(
        apply_preset, [preset, *angle_sliders], expression_sliders, api_name="apply_preset"
    ).then(
        animate_sliders,
        [character, *sliders],
        [output_image, time_per_frame],
        api_visibility="private",
    )
    animate_video_button.click(
        animate_video,
        [character, video],
        [output_video, angles_plot, expressions_plot, time_per_frame],
        api_name="animate_video",
    )
    webcam.stream(
        stream_webcam,
        [character, webcam, session_state],
        [live_output, time_per_frame, angles_plot, expressions_plot, session_state],
        api_name="stream_webcam",
        api_visibility="private",
        stream_every=0.05,
        time_limit=300,
        concurrency_limit=4,
    )
    # The same frame step for clients that send their camera's frames one call at a time
    # (gradio_client, scripts): the browser's webcam uses the stream above.
    gr.Button(visible=False).click(
        stream_webcam,
        [character, webcam, session_state],
        [live_output, time_per_frame, angles_plot, expressions_plot, session_state],
        api_name="webcam_frame",
        concurrency_limit=4,
    )
    neutral.click(set_neutral, [session_state], [session_state], api_name="set_neutral")

app.queue(max_size=64, default_concurrency_limit=2)

if __name__ == "__main__":
    # no server_name or server_port: Gradio reads GRADIO_SERVER_NAME and GRADIO_SERVER_PORT
    app.launch(max_file_size=LIMITS.max_upload_bytes, css=CSS)
