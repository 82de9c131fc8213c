"""Test harness, not part of the product: run a Gradio Space's ``app.py`` locally in a subprocess
on a free port, with Blender and Ray made unimportable (a Space installs without them), and open
it in headless Chromium with a fake camera: what the tests and ``benchmarks/space_latency.py``
drive the running app with (``gradio_client`` and a browser; Playwright is a development
dependency). Tests import it as ``serving`` (pytest puts ``tests/`` on ``sys.path``); a
benchmark puts ``tests/`` on its path first."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

NOT_IN_A_SPACE = ("bpy", "ray")  # the render extra: a Space must run without them

RUNNER = (
    "import runpy, sys\n"
    "sys.modules.update(dict.fromkeys(sys.argv[2].split(','), None))\n"
    "runpy.run_path(sys.argv[1], run_name='__main__')\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(
    app: str | os.PathLike,
    env: Mapping[str, str] | None = None,
    *,
    timeout: float = 180.0,
    log: str | os.PathLike | None = None,
) -> Iterator[str]:
    """Start ``app`` (``python app.py``, Gradio's ``launch``) on a free local port and yield its
    URL once it answers; stop it on exit. The port and address reach the app as Gradio's own
    ``GRADIO_SERVER_PORT`` and ``GRADIO_SERVER_NAME``, as a Space sets them. ``env`` adds
    environment variables; the app's output goes to ``log`` (a temporary file by default) and
    its tail into the error if it fails."""
    port = free_port()
    environment = {
        **os.environ,
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        **(env or {}),
    }
    log_path = Path(log) if log else Path(os.environ.get("TMPDIR", "/tmp")) / f"app-{port}.log"
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", RUNNER, str(app), ",".join(NOT_IN_A_SPACE)],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_serving(url, process, log_path, timeout)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_serving(url: str, process: subprocess.Popen, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the app exited with code {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/config", timeout=5):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise TimeoutError(f"the app did not answer at {url} within {timeout:g} s (log: {log_path})")


CHROMIUM = "/usr/bin/chromium"  # Debian's package
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    # no calls home: this machine's closed network refuses them, many at a time
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
)


def y4m_camera(frames: Sequence[np.ndarray], path: str | os.PathLike, fps: int = 30) -> Path:
    """RGB frames (H, W, 3) as a Y4M file, which Chromium's fake camera plays in a loop."""
    import av

    height, width = frames[0].shape[:2]
    with av.open(str(path), "w", format="yuv4mpegpipe") as output:
        stream = output.add_stream("rawvideo", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for frame in frames:
            output.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        output.mux(stream.encode())
    return Path(path)


@contextlib.contextmanager
def chromium_page(
    url: str, *, camera: str | os.PathLike | None = None, width: int = 1400, height: int = 1100
):
    """A headless Chromium page (Playwright driving Debian's ``chromium``) opened at ``url``;
    with ``camera`` (a Y4M file) the page's webcam is a fake camera playing it, permission
    granted."""
    from playwright.sync_api import sync_playwright

    flags = list(CHROMIUM_FLAGS)
    if camera is not None:
        flags += ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
        flags.append(f"--use-file-for-fake-video-capture={camera}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
        try:
            context = browser.new_context(
                viewport={"width": width, "height": height},
                permissions=["camera"] if camera is not None else [],
            )
            page = context.new_page()
            page.goto(url, wait_until="load")
            yield page
        finally:
            browser.close()
