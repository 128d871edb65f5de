"""How long the speaker takes from exec to READY=1 on systemd's notify socket
(the store checked and backed up, the player, the inputs and the control
socket up; the model loads later), against the floor every start pays: the
same interpreter importing the same modules and nothing else. Also the
daemon's RSS when it says READY. Target (issue 24): READY in ≤ 2 s.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import Figure
from bench.bench_stop import _config, _feed
from earmark.library.speech import encode, synthesize
from earmark.sync.broker import LocalBroker, free_port
from tests.conftest import GARDEN_SENTENCES, SPEECH_CACHE
from tests.daemon_process import Daemon, Systemd
from tests.library.servers import serve
from tests.support import wait_for

ROUNDS = 5


def _imports_only() -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import earmark.app, earmark.cli"], check=True)
    return time.monotonic() - started


def _ready(config: Path, work: Path) -> tuple[float, float]:
    """Seconds from exec to READY=1, and the RSS then (MB)."""
    systemd = Systemd(work / "notify", watchdog_seconds=30)
    started = time.monotonic()
    daemon = Daemon(config, work / "daemon.log", environ=systemd.environ())
    try:
        wait_for(systemd.ready, 60, 0.005, "READY=1")
        seconds = next(at for at, m in systemd.received if m.startswith("READY=1")) - started
        status = Path(f"/proc/{daemon.process.pid}/status").read_text().splitlines()
        rss = int(next(line for line in status if line.startswith("VmRSS:")).split()[1])
    finally:
        daemon.terminate()
        systemd.close()
    return seconds, rss / 1024


def run() -> list[Figure]:
    audio = synthesize(GARDEN_SENTENCES, SPEECH_CACHE, pause=0.7)
    episode = encode(audio.wav, Path(tempfile.mkdtemp()) / "garden.mp3", title="garden")
    port = free_port()
    floor = statistics.median(_imports_only() for _ in range(ROUNDS))
    measured: dict[str, list[tuple[float, float]]] = {"empty library": [], "a feed to play": []}
    with LocalBroker(port), serve() as site:
        mqtt = {"host": "127.0.0.1", "port": port}
        feed = _feed(site, episode.read_bytes())
        for _ in range(ROUNDS):
            for name, library in (("empty library", {}), ("a feed to play", {"feeds": [feed]})):
                with tempfile.TemporaryDirectory(prefix="earmark-bench-start-") as tmp:
                    work = Path(tmp)
                    measured[name].append(_ready(_config(work, mqtt, library), work))
    figures = []
    for name, rounds in measured.items():
        seconds = statistics.median(s for s, _ in rounds)
        rss = statistics.median(r for _, r in rounds)
        figures.append(
            Figure(
                f"start to READY=1: {name}",
                seconds,
                "s",
                "<= 2",
                f"median of {ROUNDS}; {seconds / floor:.2f}x importing its modules ({floor:.2f} s)",
            )
        )
        figures.append(Figure(f"RSS at READY=1: {name}", rss, "MB", "", "model not loaded yet"))
    return figures
