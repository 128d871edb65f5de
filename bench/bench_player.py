"""The player: command latency, bytes fetched by a far stream seek, CPU cost.

Each figure has its baseline measured in the same run: bare python-mpv for
latency, the file size for the seek, the bare ``mpv`` command for CPU. The CPU
figure compares the two over the same steady window: both already play, and
each process's CPU time (all its threads, from /proc) is read at the start and
the end of the same number of seconds of playback; start-up and teardown are
outside the window on both sides.
"""

from __future__ import annotations

import json
import locale
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import mpv

from bench import Figure
from earmark.config.model import PlayerConfig
from earmark.library.fileserver import FileServer
from earmark.player import Player, PlayerEvents, PlayerState

WORK = Path(tempfile.gettempdir()) / "earmark-bench-player"
ROUNDS = 25
# the measured span of the CPU figure: 20 s of audio keeps the whole run near a minute
CPU_SPAN = 20.0
# both players play this long before the CPU window opens (past start-up)
CPU_WARMUP = 2.0


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def _media() -> tuple[Path, Path]:
    """A one-minute 128 kbps MP3 and a ≈ 100 MB one made of 105 copies of it."""
    WORK.mkdir(parents=True, exist_ok=True)
    minute, big = WORK / "minute.mp3", WORK / "www" / "big.mp3"
    if not minute.exists():
        _ffmpeg(
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=330:duration=60",
            "-ac",
            "2",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "128k",
            str(minute),
        )
    if not big.exists():
        big.parent.mkdir(exist_ok=True)
        listing = WORK / "big.txt"
        listing.write_text(f"file '{minute}'\n" * 105)
        _ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(big))
    return minute, big


def _stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def _bare_round_trip(path: Path) -> list[float]:
    """Set ``pause`` on bare python-mpv and wait for the observed change."""
    locale.setlocale(locale.LC_NUMERIC, "C")
    core = mpv.MPV(ao="null", vo="null", video=False, ytdl=False)
    changed = threading.Event()
    core.observe_property("pause", lambda name, value: changed.set())
    core.loadfile(str(path))
    core.wait_for_event("file-loaded", timeout=10)
    samples = []
    for i in range(ROUNDS * 2):
        changed.clear()
        started = time.perf_counter()
        core.pause = i % 2 == 0
        changed.wait(5)
        samples.append(time.perf_counter() - started)
    core.terminate()
    return samples


class _Waiter:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.state: PlayerState | None = None

    def on_state(self, state: PlayerState) -> None:
        with self._cond:
            self.state = state
            self._cond.notify_all()

    def timed(self, command: Callable[[], None], until: Callable[[PlayerState], bool]) -> float:
        started = time.perf_counter()
        command()
        with self._cond:
            self._cond.wait_for(lambda: self.state is not None and until(self.state), 10)
        return time.perf_counter() - started


def _player_latency(path: Path) -> dict[str, list[float]]:
    waiter = _Waiter()
    player = Player(PlayerConfig(audio_output="null"), PlayerEvents(on_state=waiter.on_state))
    source = str(path)
    out: dict[str, list[float]] = {"play": [], "pause": [], "seek": []}
    try:
        for i in range(ROUNDS):
            start = float(i % 40)
            out["play"].append(
                waiter.timed(
                    lambda s=start: player.play(source, s),
                    lambda st, s=start: st.status == "playing" and abs(st.position - s) < 1,
                )
            )
            out["pause"].append(waiter.timed(player.pause, lambda st: st.status == "paused"))
            target = 50.0 - i
            out["seek"].append(
                waiter.timed(
                    lambda t=target: player.seek(t), lambda st, t=target: abs(st.position - t) < 0.3
                )
            )
            player.resume()
    finally:
        player.close()
    return out


def _seek_fraction(big: Path, cap_send_buffer: bool) -> float:
    with FileServer(big.parent, send_buffer=65536 if cap_send_buffer else None) as server:
        player = Player(PlayerConfig(audio_output="null"))
        try:
            player.play(server.url(big.name))
            _wait(lambda: player.snapshot().status == "playing" and player.snapshot().duration)
            duration = player.snapshot().duration or 0.0
            player.seek(duration * 0.9)
            _wait(lambda: player.snapshot().position > duration * 0.9 + 0.5)
        finally:
            player.close()
        return server.bytes_sent / big.stat().st_size


def _wait(condition: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("benchmark timed out")
        time.sleep(0.01)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid``, all its threads (Linux /proc)."""
    # fields after the command name start with the state (field 3 of proc(5));
    # utime and stime are fields 14 and 15
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _steady_cpu(pid: int, position: Callable[[], float]) -> tuple[float, float]:
    """CPU seconds that ``pid`` spends over CPU_SPAN seconds of steady playback,
    once it plays past CPU_WARMUP, and the seconds of audio it played meanwhile.
    Nothing is asked of the player inside the window."""
    _wait(lambda: position() >= CPU_WARMUP, timeout=CPU_WARMUP + 15)
    played_from, cpu_from = position(), _cpu_seconds(pid)
    time.sleep(CPU_SPAN)
    cpu_to, played_to = _cpu_seconds(pid), position()
    return cpu_to - cpu_from, played_to - played_from


def _cpu_ours(path: Path) -> tuple[float, float]:
    """earmark's Player in this process: the whole process is what earmark costs."""
    player = Player(PlayerConfig(audio_output="null"))
    try:
        player.play(str(path))
        return _steady_cpu(os.getpid(), lambda: player.snapshot().position)
    finally:
        player.close()


class _MpvIpc:
    """Reads ``time-pos`` from a bare ``mpv`` through its JSON IPC socket."""

    def __init__(self, path: Path) -> None:
        _wait(path.exists, timeout=10)
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket.connect(str(path))
        self._lines = self._socket.makefile("r", encoding="utf-8")
        self._request = 0

    def position(self) -> float:
        self._request += 1
        request = {"command": ["get_property", "time-pos"], "request_id": self._request}
        self._socket.sendall(json.dumps(request).encode() + b"\n")
        for line in self._lines:  # events may come before the reply
            reply = json.loads(line)
            if reply.get("request_id") == self._request:
                data = reply.get("data")
                return float(data) if isinstance(data, int | float) else 0.0
        raise RuntimeError("mpv closed its IPC socket")

    def close(self) -> None:
        self._lines.close()
        self._socket.close()


def _cpu_bare(path: Path) -> tuple[float, float]:
    """The bare ``mpv`` command on the null output, as a child process."""
    ipc_path = WORK / "bare-mpv.sock"
    ipc_path.unlink(missing_ok=True)
    process = subprocess.Popen(
        [
            "mpv",
            "--no-config",
            "--ao=null",
            "--vo=null",
            "--no-terminal",
            f"--input-ipc-server={ipc_path}",
            str(path),
        ]
    )
    try:
        ipc = _MpvIpc(ipc_path)
        try:
            return _steady_cpu(process.pid, ipc.position)
        finally:
            ipc.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
        ipc_path.unlink(missing_ok=True)


def run() -> list[Figure]:
    minute, big = _media()
    bare_median, bare_p95 = _stats(_bare_round_trip(minute))
    figures = [
        Figure(
            "player: bare python-mpv property round trip, median",
            bare_median * 1e3,
            "ms",
            "",
            "baseline for the latencies below",
        )
    ]
    for name, samples in _player_latency(minute).items():
        median, p95 = _stats(samples)
        figures += [
            Figure(
                f"player: {name} -> state, median",
                median * 1e3,
                "ms",
                "",
                f"{median / bare_median:.1f}x bare round trip",
            ),
            Figure(
                f"player: {name} -> state, p95",
                p95 * 1e3,
                "ms",
                "",
                f"{p95 / bare_p95:.1f}x bare p95 {bare_p95 * 1e3:.2f} ms",
            ),
        ]
    size_mb = big.stat().st_size / 1e6
    figures.append(
        Figure(
            "player: far seek (90 %) in a stream, bytes sent / size",
            _seek_fraction(big, cap_send_buffer=True),
            "ratio",
            "<= 0.05",
            f"{size_mb:.0f} MB file, server send buffer 64 KiB",
        )
    )
    figures.append(
        Figure(
            "player: same, default kernel send buffer",
            _seek_fraction(big, cap_send_buffer=False),
            "ratio",
            "",
            "counts bytes queued in the local socket buffer",
        )
    )
    (ours, ours_audio), (bare, bare_audio) = _cpu_ours(minute), _cpu_bare(minute)
    figures.append(
        Figure(
            f"player: CPU over {CPU_SPAN:.0f}s of steady playback / bare mpv",
            ours / bare,
            "ratio",
            "<= 1.5",
            f"ours {ours:.2f}s ({ours_audio:.1f}s audio), "
            f"mpv --ao=null {bare:.2f}s ({bare_audio:.1f}s audio), both {CPU_WARMUP:.0f}s in",
        )
    )
    return figures
