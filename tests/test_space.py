"""The AniMo Space, running: started on a local port with the shipped weights (Blender and Ray
unimportable, as on a Space) and driven through ``gradio_client``: every entry point, the messages
for bad uploads, 20 concurrent requests, and the page in headless Chromium."""

import json
import os
import shutil
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
from serving import CHROMIUM, chromium_page, running_app, y4m_camera

from animeceleb.pose import POSE_DIM, POSE_INDEX, POSE_NAMES
from animo_hf.video import export_to_mp4, read_video

gradio_client = pytest.importorskip("gradio_client", reason="the space extra is not installed")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "spaces" / "animo" / "app.py"
EXAMPLES = ROOT / "spaces" / "animo" / "examples"
MAX_UPLOAD_MB = 2  # the limits the app is started with here
MAX_VIDEO_SECONDS = 5
SHIPPED = ROOT / "weights" / "animo"
SHIPPED_LORA = ROOT / "weights" / "animo-lora"  # fused by default when present
# the frame size the Space renders: the size the shipped weights were trained at
SIZE = json.loads((SHIPPED / "editing_network" / "config.json").read_text())["sample_size"]


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    env = {  # the Space's default weights: the shipped folder and its adapter
        "ANIMO_MAX_UPLOAD_MB": str(MAX_UPLOAD_MB),
        "ANIMO_MAX_VIDEO_SECONDS": str(MAX_VIDEO_SECONDS),
    }
    log = tmp_path_factory.mktemp("space") / "app.log"
    with running_app(APP, env, log=log) as url:
        yield url


@pytest.fixture(scope="module")
def media(tmp_path_factory, carphone_path):
    """Driving files: carphone frames as PNGs and a 1 s clip, a blank clip with no face, a clip
    over the length limit, and a text file."""
    folder = tmp_path_factory.mktemp("media")
    frames, fps = read_video(carphone_path)
    for i, frame in enumerate(frames[:12]):
        PIL.Image.fromarray(frame).save(folder / f"frame-{i}.png")
    export_to_mp4(frames[:30], folder / "one_second.mp4", fps=fps)
    blank = [np.full((64, 64, 3), 0.5, np.float32)] * 10
    export_to_mp4(blank, folder / "empty_room.mp4", fps=10)
    export_to_mp4(blank * 6, folder / "six_seconds.mp4", fps=10)
    (folder / "notes.txt").write_text("not an image")
    (folder / "notes.png").write_text("not an image")
    rng = np.random.default_rng(0)
    PIL.Image.fromarray(rng.integers(0, 255, (1000, 1000, 3), np.uint8)).save(folder / "big.png")
    return folder


def example(name_part: str) -> Path:
    return next(EXAMPLES.glob(f"*{name_part}*.png"))


def pose_values(**named: float) -> list[float]:
    values = [0.0] * POSE_DIM
    for name, value in named.items():
        values[POSE_INDEX[name]] = value
    return values


def select(client: Client, path: Path) -> tuple[str, str]:
    """Choose the session's character; returns the framed image's file and the caption."""
    return client.predict(handle_file(str(path)), api_name="/select_character")


def test_an_example_character_driven_by_the_sliders_and_a_preset(space):
    client = Client(space, verbose=False)
    _, caption = select(client, example("procedural-000013"))
    assert caption.startswith("procedural character 13") and "cc-by-4.0" in caption
    image, timing = client.predict(*pose_values(yaw=15.0), api_name="/animate_pose")
    frame = PIL.Image.open(image)
    assert frame.mode == "RGBA" and frame.size == (SIZE, SIZE)
    assert "ms** per frame on the server" in timing
    smile = client.predict("smile", 0.0, 0.0, 0.0, api_name="/apply_preset")
    assert len(smile) == POSE_INDEX["yaw"] and smile[POSE_INDEX["eye_happy_L"]] == 1.0
    with pytest.raises(AppError, match="Value 2.0 is greater than maximum value 1.0"):
        client.predict(*pose_values(mouth_a=2.0), api_name="/animate_pose")


def test_the_vrm_example_shows_its_attribution(space, shared_models):
    client = Client(space, verbose=False)
    vrm = list(EXAMPLES.glob("vrm-*.png"))
    if not vrm:
        pytest.skip("the VRM example was not rendered (scripts/space_examples.py)")
    _, caption = select(client, vrm[0])
    assert "SirRichard94" in caption and "cc-by-3.0" in caption


def test_an_uploaded_character_is_framed_square(space, tmp_path):
    array = np.full((120, 200, 3), 255, np.uint8)  # RGB on a plain white background
    array[20:100, 130:180] = (200, 120, 160)
    PIL.Image.fromarray(array).save(tmp_path / "my character.png")
    client = Client(space, verbose=False)
    framed, caption = select(client, tmp_path / "my character.png")
    framed = PIL.Image.open(framed)
    assert framed.mode == "RGBA" and framed.size[0] == framed.size[1] >= 80
    assert "Your image, framed" in caption


def test_an_uploaded_video_drives_the_character(space, media):
    client = Client(space, verbose=False)
    select(client, example("procedural-000023"))
    video, angles, expressions, timing = client.predict(
        handle_file(str(media / "one_second.mp4")), api_name="/animate_video"
    )
    frames, _ = read_video(video)
    assert len(frames) == 30 and frames[0].shape == (SIZE, SIZE, 3)
    assert {row[1] for row in angles["data"]} == {"yaw", "pitch", "roll"}
    assert len(angles["data"]) == 3 * 30
    assert {row[1] for row in expressions["data"]} <= set(POSE_NAMES)
    assert "face reading + animation" in timing


def test_streamed_webcam_frames_animate_and_set_neutral(space, media):
    client = Client(space, verbose=False)
    select(client, example("procedural-000009"))
    images, timings = [], []
    for i in range(12):
        if i == 8:
            assert client.predict(api_name="/set_neutral") == ()
        image, timing, *_ = client.predict(
            handle_file(str(media / f"frame-{i}.png")), api_name="/webcam_frame"
        )
        images.append(np.asarray(PIL.Image.open(image)))
        timings.append(timing)
    assert all("ms** per frame" in t and "no face" not in t for t in timings)
    assert all(image.shape == (SIZE, SIZE, 3) for image in images)  # JPEG, over white
    # The person's face moves: the animated character does too.
    assert max(np.abs(a.astype(int) - images[0]).mean() for a in images[1:8]) > 0.2


def test_bad_uploads_are_messages_not_tracebacks(space, media):
    client = Client(space, verbose=False)
    with pytest.raises(AppError, match="no character: pick an example"):
        client.predict(handle_file(str(media / "one_second.mp4")), api_name="/animate_video")
    select(client, example("procedural-000013"))
    cases = [
        ("/select_character", "notes.txt", "Invalid file type"),
        ("/select_character", "notes.png", "notes.png: not an image file"),
        ("/animate_video", "notes.txt", "not a video OpenCV can decode"),
        ("/animate_video", "empty_room.mp4", "empty_room.mp4: no face found at the start"),
        ("/animate_video", "six_seconds.mp4", "six_seconds.mp4: 6.0 s long; expected at most 5 s"),
    ]
    for endpoint, name, message in cases:
        with pytest.raises(AppError, match=message):
            client.predict(handle_file(str(media / name)), api_name=endpoint)
    # Over the upload limit: refused before it is sent (launch's max_file_size).
    with pytest.raises(ValueError, match="exceeds the maximum file size of 2000000 bytes"):
        client.predict(handle_file(str(media / "big.png")), api_name="/select_character")


def test_twenty_concurrent_requests_are_all_answered(space, media):
    """16 slider requests and 4 videos at once, each from its own client (a session with its
    character chosen first)."""
    clients = [Client(space, verbose=False) for _ in range(20)]
    for client in clients:
        select(client, example("procedural-000037"))

    def request(i: int) -> tuple[str, float]:
        start = time.perf_counter()
        if i % 5 == 4:
            video, *_ = clients[i].predict(
                handle_file(str(media / "one_second.mp4")), api_name="/animate_video"
            )
            assert len(read_video(video)[0]) == 30
        else:
            image, _ = clients[i].predict(*pose_values(yaw=float(i - 10)), api_name="/animate_pose")
            assert PIL.Image.open(image).size == (SIZE, SIZE)
        return ("video" if i % 5 == 4 else "sliders"), time.perf_counter() - start

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(request, range(20)))
    assert len(results) == 20
    latencies = sorted(seconds for _, seconds in results)
    print(
        f"20 concurrent requests: median {statistics.median(latencies):.2f} s, "
        f"worst {latencies[-1]:.2f} s"
    )


def test_the_page_in_headless_chromium_streams_a_webcam(space, tmp_path, carphone_path):
    """The page renders with its title and main controls; an example character is driven by a
    camera streamed from the browser (Chromium's fake camera playing the carphone clip) through
    the page's own webcam stream. ``UPDATE_SCREENSHOT=1`` writes the README's screenshot
    (docs/space.png)."""
    if not Path(CHROMIUM).is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} not found: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    camera = y4m_camera(read_video(carphone_path)[0], tmp_path / "camera.y4m")
    with chromium_page(space, camera=camera) as page:
        page.get_by_text("Example characters").first.wait_for(timeout=60_000)
        assert page.title() == "AniMo: animate an anime character with your face"
        shown = "animo + LoRA animo-lora" if SHIPPED_LORA.is_dir() else "animo"
        assert page.locator("code", has_text=shown).first.is_visible()
        for tab in ("Webcam", "Video", "Sliders"):
            assert page.get_by_role("tab", name=tab).is_visible()
        for button in ("Upload your own character", "Set neutral (your resting face)"):
            assert page.get_by_role("button", name=button).is_visible()
        page.locator("button.thumbnail-item").first.click()
        page.locator("#framed img").wait_for(timeout=60_000)
        page.get_by_role("button", name="Click to Access Webcam").click()
        page.get_by_role("button", name="capture photo").click()  # starts the stream
        page.locator("#live img").wait_for(timeout=60_000)
        timing = page.get_by_text("face reading + animation").first
        timing.wait_for(timeout=60_000)
        assert "ms per frame on the server" in timing.inner_text()
        page.wait_for_timeout(4000)  # the pose plot fills
        screenshot = tmp_path / "space.png"
        page.screenshot(path=str(screenshot), full_page=True)
    assert PIL.Image.open(screenshot).size[0] == 1400
    if os.environ.get("UPDATE_SCREENSHOT"):
        shutil.copy(screenshot, ROOT / "docs" / "space.png")


def test_the_space_folder_is_a_valid_space_without_blender():
    """README YAML a Space understands (sdk and version as pinned, app file, Python, licence, the
    model and dataset), and requirements naming the project's `space` extra, whose install has
    no Blender or Ray."""
    import tomllib

    from huggingface_hub import SpaceCardData
    from huggingface_hub.repocard import metadata_load
    from packaging.requirements import Requirement

    folder = APP.parent
    card = SpaceCardData(**metadata_load(folder / "README.md"))
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert (
        card.sdk == "gradio"
        and f"gradio=={card.sdk_version}" in pyproject["optional-dependencies"]["space"]
    )
    assert (folder / card.app_file).is_file() and card.python_version == "3.11"
    assert card.license == "apache-2.0" and card.models and card.datasets
    lines = (folder / "requirements.txt").read_text().splitlines()
    requirements = [Requirement(line) for line in lines if line and line[0] not in "#-"]
    (project,) = [r for r in requirements if r.name == pyproject["name"]]
    assert project.extras == {"space"} and str(project.specifier) == f"=={pyproject['version']}"
    installed = pyproject["dependencies"] + pyproject["optional-dependencies"]["space"]
    names = {Requirement(r).name for r in installed} | {r.name for r in requirements}
    assert not names & {"bpy", "bpy-vrm-format", "ray"}
