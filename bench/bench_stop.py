"""How long SIGTERM takes to stop the real daemon, per state, against a stop
while idle: playing, refreshing a slow feed, downloading from a throttled
server, transcribing a snip, the broker away with the outbox full. The target
is systemd's: every state under 5 s (``TimeoutStopSec`` ends it with SIGKILL).
"""

from __future__ import annotations

import signal
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bench import Figure
from earmark.library.speech import encode, synthesize
from earmark.sync.broker import LocalBroker, free_port
from tests.conftest import GARDEN_SENTENCES, SPEECH_CACHE
from tests.daemon_process import Daemon, earmark
from tests.library.servers import Site, body, serve, trickle
from tests.support import wait_for

ROUNDS = 3


def _config(work: Path, mqtt: dict[str, Any], library: dict[str, Any], **more: Any) -> Path:
    settings = {
        "device_id": "bench",
        "data_dir": str(work / "data"),
        "control_socket": str(work / "earmark.sock"),
        "log_level": "info",
        "mqtt": mqtt,
        "player": {"audio_output": "null", "earcons": False},
        "library": {"demo": False, **library},
        "transcription": {"lookahead": "off"},
        **more,
    }
    path = work / "earmark.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def _feed(site: Site, episode: bytes, length: int | None = None) -> str:
    site.on("ep.mp3", body(episode, content_type="audio/mpeg"))
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Bench</title><link>{site.base_url}</link>
<description>x</description><item><guid>b1</guid><title>Ep</title>
<pubDate>Mon, 09 Nov 2026 08:00:00 +0000</pubDate>
<enclosure url="{site.url("ep.mp3")}" type="audio/mpeg" length="{length or len(episode)}"/>
</item></channel></rss>"""
    return site.on("feed.xml", body(xml.encode()))


def _stop_seconds(config: Path, log: Path, ready: Callable[[Daemon], object]) -> float:
    daemon = Daemon(config, log)
    try:
        wait_for(lambda: ready(daemon), 120, 0.05, "the state to stop in")
    except BaseException:
        daemon.kill()
        print(daemon.log[-1500:])
        raise
    started = time.monotonic()
    daemon.process.send_signal(signal.SIGTERM)
    code = daemon.process.wait(60)
    seconds = time.monotonic() - started
    daemon.terminate()
    if code != 0:
        raise RuntimeError(f"the daemon exited {code}: {daemon.log[-2000:]}")
    return seconds


def _measure(name: str, setup: Callable[[Path], tuple[Path, Callable[[Daemon], object]]]) -> float:
    times = []
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory(prefix=f"earmark-bench-stop-{name}-") as tmp:
            work = Path(tmp)
            config, ready = setup(work)
            times.append(_stop_seconds(config, work / "daemon.log", ready))
    return statistics.median(times)


def run() -> list[Figure]:
    audio = synthesize(GARDEN_SENTENCES, SPEECH_CACHE, pause=0.7)
    episode_file = encode(audio.wav, Path(tempfile.mkdtemp()) / "garden.mp3", title="garden")
    episode = episode_file.read_bytes()
    held = socket.socket()  # bound, never listening: a broker that refuses
    held.bind(("127.0.0.1", 0))
    port = free_port()
    figures: list[Figure] = []
    with LocalBroker(port), serve() as site:
        mqtt = {"host": "127.0.0.1", "port": port}
        feed = _feed(site, episode)
        big = 50_000_000
        site.on("big.mp3", trickle(b"\xff" * big, every=0.001))
        big_xml = f"""<rss version="2.0"><channel><title>Big</title><item><guid>g</guid>
<title>Big</title><enclosure url="{site.url("big.mp3")}" type="audio/mpeg" length="{big}"/>
</item></channel></rss>"""
        big_feed = site.on("big.xml", body(big_xml.encode()))
        slow_feed = site.on("slow.xml", trickle(b"<rss>" + b" " * 100_000, every=0.05))

        def playing(daemon: Daemon) -> bool:
            player = (daemon.status() or {}).get("player", {})
            return player.get("status") == "playing" and player.get("position", 0) > 1

        def started(daemon: Daemon) -> bool:
            return "earmark started" in daemon.log

        def snipped(daemon: Daemon) -> bool:
            if playing(daemon) and "snip saved" not in daemon.log:
                earmark(daemon.config, "snip")
            return "whisper model loaded" in daemon.log

        def pending(daemon: Daemon) -> bool:
            if playing(daemon) and (daemon.status() or {}).get("outbox_pending", 0) == 0:
                earmark(daemon.config, "snip")
            return (daemon.status() or {}).get("outbox_pending", 0) > 0

        away = {"host": "127.0.0.1", "port": held.getsockname()[1]}
        states: dict[str, Callable[[Path], tuple[Path, Callable[[Daemon], object]]]] = {
            "idle": lambda w: (_config(w, mqtt, {}), started),
            "playing": lambda w: (_config(w, mqtt, {"feeds": [feed]}), playing),
            "slow feed refresh": lambda w: (
                _config(w, mqtt, {"feeds": [slow_feed], "feed_seconds": 120}),
                lambda d: "earmark started" in d.log and site.asked("slow.xml"),
            ),
            "throttled download": lambda w: (
                _config(w, mqtt, {"feeds": [big_feed]}),
                lambda d: any(p.stat().st_size for p in (w / "data").rglob("*.part")),
            ),
            "snip transcribing": lambda w: (
                _config(w, mqtt, {"feeds": [feed]}, snip={"before": 45, "after": 15}),
                snipped,
            ),
            "broker away, outbox pending": lambda w: (
                _config(w, away, {"feeds": [feed]}),
                pending,
            ),
        }
        seconds = {name: _measure(name, setup) for name, setup in states.items()}
    held.close()
    idle = seconds["idle"]
    for name, value in seconds.items():
        figures.append(
            Figure(
                f"stop on SIGTERM: {name}",
                value,
                "s",
                "< 5",
                f"median of {ROUNDS}; {value / idle:.2f}x the idle stop ({idle:.2f} s)",
            )
        )
    return figures
