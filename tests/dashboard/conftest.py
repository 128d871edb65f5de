"""A running dashboard (the real ``earmark dashboard`` process) on the test's
mosquitto, and Debian's Chromium driven by Playwright, with every dialog and
console line recorded so a test can prove no injected script ran."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.publish as publish
import pytest

from earmark.payloads import HighlightPayload
from earmark.sync.broker import LocalBroker, free_port

from ..support import wait_for

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


class DashboardProcess:
    def __init__(self, config: Path, log_path: Path, port: int) -> None:
        self.config = config
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{port}/"
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "earmark", "-c", str(config), "dashboard"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        wait_for(self._answers, 60, 0.1, "the dashboard to answer")
        wait_for(lambda: "connected to the broker" in self.log, 60, 0.1, "the dashboard's broker")

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _answers(self) -> bool:
        assert self.process.poll() is None, f"dashboard exited:\n{self.log[-3000:]}"
        try:
            with urllib.request.urlopen(self.url, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        try:
            with urllib.request.urlopen(self.url + path.lstrip("/"), timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return int(self.process.returncode)


@pytest.fixture
def dashboard_config(
    write_config: Callable[..., Path], broker: LocalBroker, tmp_path: Path
) -> Callable[..., Path]:
    """A config for the dashboard on the test broker (its own file and data dir)."""

    def write(overrides: dict | None = None) -> Path:
        port = free_port()
        settings = {
            "mqtt": {"host": "127.0.0.1", "port": broker.port},
            "dashboard": {"port": port, "data_dir": str(tmp_path / "dashboard")},
        }
        for key, value in (overrides or {}).items():
            settings[key] = {**settings.get(key, {}), **value} if isinstance(value, dict) else value
        return write_config(settings, name="dashboard.yaml")

    return write


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalBroker, Any]]:
    """One broker and dashboard for a whole test module, for tests that each use
    their own ids."""
    from .shared import start_dashboard  # shared.py imports this module

    with LocalBroker(free_port()) as broker:
        running = start_dashboard(tmp_path_factory.mktemp("shared"), broker.port)
        try:
            yield broker, running
        finally:
            running.stop()


@pytest.fixture
def dashboard(dashboard_config: Callable[..., Path], tmp_path: Path) -> Iterator[DashboardProcess]:
    config = dashboard_config()
    port = _port_of(config)
    running = DashboardProcess(config, tmp_path / "dashboard.log", port)
    try:
        yield running
    finally:
        running.stop()


def _port_of(config: Path) -> int:
    import yaml

    return int(yaml.safe_load(config.read_text())["dashboard"]["port"])


@dataclass
class Witness:
    """Everything a page did that an injected script would show up in."""

    dialogs: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Chromium for one test module. Not for the session: Playwright's sync API
    keeps an asyncio loop running in the test thread while it is open, and every
    later test that calls asyncio.run() would fail."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed: ./earmark.sh test installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


# how long a page waits for an element before the test fails: far above what any
# step takes with both cores busy (a speaker's export or transcription behind it);
# a wait ends as soon as its element is there, so a passing test never waits it out
PAGE_WAIT_MS = 90_000


@pytest.fixture
def page_and_witness(chromium: Any) -> Iterator[tuple[Any, Witness]]:
    """A fresh browser context and page; its dialogs are dismissed and recorded."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(PAGE_WAIT_MS)
    witness = Witness()

    def dialog(d: Any) -> None:
        witness.dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    page.on("console", lambda m: witness.console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: witness.errors.append(str(e)))
    yield page, witness
    context.close()


def until_in_page(
    page: Any, expression: str, what: str, timeout: float = PAGE_WAIT_MS / 1000, arg: Any = None
) -> Any:
    """Poll a JavaScript expression (or a one-argument function and ``arg``) from
    the test's side until it is truthy. Playwright's ``wait_for_function`` evals
    the predicate inside the page, which the dashboard's CSP (no unsafe-eval)
    refuses now and then (microsoft/playwright#36986); ``evaluate`` is not eval."""
    return wait_for(lambda: page.evaluate(expression, arg), timeout, 0.05, what)


def publish_highlight(port: int, h: HighlightPayload | bytes, device: str | None = None) -> None:
    payload = h if isinstance(h, bytes) else h.to_json()
    who = device or (h.device_id if isinstance(h, HighlightPayload) else "kitchen")
    publish.single(f"earmark/{who}/highlight", payload, qos=1, hostname="127.0.0.1", port=port)


def publish_raw(port: int, topic: str, payload: bytes, retain: bool = False) -> None:
    publish.single(topic, payload, qos=1, retain=retain, hostname="127.0.0.1", port=port)


def highlight(**fields: Any) -> HighlightPayload:
    """A highlight payload with plausible defaults, ``fields`` over them."""
    base: dict[str, Any] = {
        "id": "0123456789abcdef",
        "version": 1,
        "status": "pending",
        "device_id": "kitchen",
        "pressed_at": "2026-11-26T10:00:00.000Z",
        "updated_at": "2026-11-26T10:00:00.000Z",
        "input_source": "button",
        "podcast": "The Slow Garden",
        "episode": "Compost",
        "source_url": "http://127.0.0.1/garden.mp3",
        "press_position": 40.0,
        "start": 10.0,
        "end": 50.0,
    }
    return HighlightPayload(**{**base, **fields})


def as_json(h: HighlightPayload, **raw: Any) -> bytes:
    """``h`` as JSON with ``raw`` fields set as they are (wrong types included)."""
    return json.dumps({**json.loads(h.to_json()), **raw}).encode()
