"""The snip pipeline and the look-ahead against bare faster-whisper, in the same run.

a  press -> transcript stored, 60 s window, nothing stored / bare transcribe of the window
b  press -> transcript stored after the look-ahead went over the episode: p50, p95
c  look-ahead episode seconds per CPU second / bare; press -> durable row p99 meanwhile
d  WER of the pipeline's snips minus bare faster-whisper on the same windows
e  peak RSS of the daemon (playing, looking ahead, transcribing) vs a bare tiny.en process
f  press -> transcript stored, pressed at a random moment of a running look-ahead chunk,
   p95 / the same press with the worker idle (the cold path), same windows, same run

In-process parts are the real ones (SQLite, ffmpeg, faster-whisper, the job
worker); only the player is stood in for where the look-ahead asks where the
play head is. Figure e runs the real daemon with mpv and mosquitto.
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench import Figure
from bench.episodes import bread_episode
from bench.speaker import speaker_config
from earmark.library.speech import SpokenAudio
from earmark.player.state import NowPlaying
from earmark.snip.capture import Capturer
from earmark.snip.lookahead import KIND as LOOKAHEAD
from earmark.snip.lookahead import LookAhead
from earmark.snip.pipeline import SnipPipeline
from earmark.snip.worker import JobWorker, Runner
from earmark.store.catalog import Catalog
from earmark.store.database import Database
from earmark.store.highlights import TRANSCRIBED, Highlight, HighlightBook
from earmark.store.jobs import JobQueue
from earmark.takeaways import ExtractiveSummarizer
from earmark.transcribe.base import TranscribeRequest, Transcript
from earmark.transcribe.local import LocalTranscriber, pinned_model_path
from tests.support import word_edits

WINDOW_BEFORE, WINDOW_AFTER = 45.0, 15.0  # the default 60 s window
COLD_PRESSES = (50.0, 110.0, 165.0)
WARM_PRESSES = 24
DURABLE_PRESSES = 200
BUSY_PRESSES = (50.0, 75.0, 100.0, 125.0, 150.0, 175.0)  # each pressed cold and busy


class _Box:
    """The pipeline over a fresh database, jobs run on the caller's thread."""

    def __init__(self, folder: Path, episode: Path, duration: float, asr: LocalTranscriber) -> None:
        self.db = Database(folder / "earmark.db")
        self.catalog = Catalog(self.db)
        self.book = HighlightBook(self.db, "bench")
        self.queue = JobQueue(self.db)
        self.capturer = Capturer(self.book, WINDOW_BEFORE, WINDOW_AFTER)
        self.pipeline = SnipPipeline(
            self.db,
            self.book,
            self.queue,
            self.catalog,
            lambda: asr,
            ExtractiveSummarizer(),
            folder / "clips",
        )
        podcast = self.catalog.save_podcast("http://feeds.invalid/bread.xml", "Bread")
        self.episode_id = self.catalog.save_episode(
            podcast, "b1", "Bread", "http://feeds.invalid/bread.mp3", duration=duration
        )
        self.catalog.set_download(self.episode_id, str(episode))
        self.episode = episode
        self.duration = duration
        self.now = NowPlaying(str(episode), 0.0, duration, self.episode_id, playing=True)
        self.lookahead = LookAhead(self.db, self.queue, lambda: asr, lambda: self.now)

    def press(self, position: float) -> Highlight:
        highlight, _ = self.capturer.capture(
            NowPlaying(str(self.episode), position, self.duration, self.episode_id), "bench"
        )
        return highlight

    def until_transcribed(self, highlight_id: str) -> Highlight:
        """Run the snip's jobs until its transcript is stored; the rest are dropped."""
        while True:
            job = self.queue.claim(max_priority=0)
            assert job is not None, "the snip ran out of jobs before its transcript"
            self.pipeline.run(job)
            highlight = self.book.get(highlight_id)
            assert highlight is not None
            if highlight.status == TRANSCRIBED:
                with self.db.transaction() as conn:
                    conn.execute("DELETE FROM highlights WHERE id = ?", (highlight_id,))
                return highlight

    def look_ahead_all(self) -> None:
        self.lookahead.follow(self.episode_id)
        while (job := self.queue.claim()) is not None:
            assert job.kind == LOOKAHEAD
            self.lookahead.run(job)

    def chunk_borders(self) -> list[float]:
        rows = self.db.query('SELECT "end" FROM transcribed_spans ORDER BY start')
        return [float(r[0]) for r in rows[:-1]]

    def close(self) -> None:
        self.db.close()


def _bare(model: object, samples: np.ndarray, start: float, end: float) -> tuple[float, str]:
    window = samples[int(start * 16000) : int(end * 16000)]
    began = time.perf_counter()
    pieces, _ = model.transcribe(  # type: ignore[attr-defined]
        window, language="en", beam_size=1, vad_filter=True, word_timestamps=True
    )
    text = " ".join(p.text.strip() for p in pieces)
    return time.perf_counter() - began, text


def _cpu() -> float:
    """CPU seconds of this process and its finished children (ffmpeg decodes)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run() -> list[Figure]:
    from faster_whisper import WhisperModel, decode_audio

    work = Path(tempfile.mkdtemp(prefix="earmark-bench-pipeline-"))
    try:
        episode, audio = bread_episode(work, repeats=2)
        samples = decode_audio(str(episode))
        asr = LocalTranscriber(pinned_model_path(), beam_size=1, cpu_threads=1, language="en")
        asr.load()
        bare_model = WhisperModel(
            str(pinned_model_path()), device="cpu", compute_type="int8", cpu_threads=1
        )
        _bare(bare_model, samples, 0.0, 5.0)  # warm both models once
        asr.transcribe_samples(samples[: 5 * 16000])
        figures: list[Figure] = []
        cold, bare_cold = _cold_presses(work, episode, audio, asr, bare_model, samples)
        figures.append(
            Figure(
                "a pipeline: press -> transcript, nothing stored / bare",
                statistics.median(cold) / statistics.median(bare_cold),
                target="<= 1.15",
                detail=f"median {statistics.median(cold):.2f}s vs bare "
                f"{statistics.median(bare_cold):.2f}s, {len(cold)} presses, 60 s window",
            )
        )
        warm, wer_gap = _warm_presses(work, episode, audio, asr, bare_model, samples)
        p50, p95 = _pct(warm, 0.5), _pct(warm, 0.95)
        figures.append(
            Figure(
                "b pipeline: press -> transcript after look-ahead, p95",
                p95,
                unit="s",
                target="<= 0.3",
                detail=f"p50 {p50:.3f}s, p95 {p95:.3f}s over {len(warm)} presses; "
                f"p95 / bare {p95 / statistics.median(bare_cold):.3f}",
            )
        )
        figures.extend(_lookahead_speed(work, episode, audio, asr, bare_model, samples))
        figures.append(_press_during_lookahead(work, episode, audio, asr))
        figures.append(wer_gap)
        asr.close()
        figures.extend(_peak_rss(work, episode))
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _cold_presses(
    work: Path,
    episode: Path,
    audio: SpokenAudio,
    asr: LocalTranscriber,
    bare_model: object,
    samples: np.ndarray,
) -> tuple[list[float], list[float]]:
    cold: list[float] = []
    bare: list[float] = []
    for i, position in enumerate(COLD_PRESSES):
        box = _Box(work / f"cold{i}", episode, audio.duration, asr)
        began = time.perf_counter()
        pressed = box.press(position)
        box.until_transcribed(pressed.id)
        cold.append(time.perf_counter() - began)
        bare.append(_bare(bare_model, samples, pressed.start, pressed.end)[0])
        box.close()
    return cold, bare


def _warm_presses(
    work: Path,
    episode: Path,
    audio: SpokenAudio,
    asr: LocalTranscriber,
    bare_model: object,
    samples: np.ndarray,
) -> tuple[list[float], Figure]:
    box = _Box(work / "warm", episode, audio.duration, asr)
    box.look_ahead_all()
    borders = box.chunk_borders()
    # presses spread over the episode, half of them with a chunk border in the window
    spread = WARM_PRESSES - len(borders)
    positions = [min(audio.duration - 1, b + 10.0) for b in borders]
    positions += [20.0 + i * (audio.duration - 22.0) / spread for i in range(spread)]
    timings: list[float] = []
    pipeline_edits = [0, 0]
    bare_edits = [0, 0]
    crossing = 0
    for position in positions:
        began = time.perf_counter()
        pressed = box.press(position)
        highlight = box.until_transcribed(pressed.id)
        timings.append(time.perf_counter() - began)
        crossing += any(highlight.start < b < highlight.end for b in borders)
        reference = audio.words_between(highlight.start, highlight.end)
        _, bare_text = _bare(bare_model, samples, highlight.start, highlight.end)
        for tally, text in ((pipeline_edits, highlight.transcript or ""), (bare_edits, bare_text)):
            edits, total = word_edits(reference, text)
            tally[0] += edits
            tally[1] += total
    box.close()
    pipeline_wer = pipeline_edits[0] / pipeline_edits[1]
    bare_wer = bare_edits[0] / bare_edits[1]
    gap = 100 * (pipeline_wer - bare_wer)
    figure = Figure(
        "d pipeline: snip WER minus bare whisper on the same windows",
        gap,
        unit="points",
        target="<= 0.5",
        detail=f"corpus WER {100 * pipeline_wer:.2f}% vs {100 * bare_wer:.2f}%, "
        f"{len(positions)} snips, {crossing} across chunk borders",
    )
    return timings, figure


def _lookahead_speed(
    work: Path,
    episode: Path,
    audio: SpokenAudio,
    asr: LocalTranscriber,
    bare_model: object,
    samples: np.ndarray,
) -> list[Figure]:
    box = _Box(work / "speed", episode, audio.duration, asr)
    began = _cpu()
    box.look_ahead_all()
    lookahead_rate = audio.duration / (_cpu() - began)
    box.close()
    began = _cpu()
    _bare(bare_model, samples, 0.0, audio.duration)
    bare_rate = audio.duration / (_cpu() - began)

    # presses while the worker thread looks ahead in another box
    busy = _Box(work / "busy", episode, audio.duration, asr)
    worker = JobWorker(busy.queue, busy.book, {LOOKAHEAD: busy.lookahead.run}, idle_seconds=0.2)
    busy.lookahead.follow(busy.episode_id)
    worker.start()
    durable: list[float] = []
    running = threading.Event()
    try:
        for i in range(DURABLE_PRESSES):
            position = 5.0 + (i * 37.0) % (audio.duration - 10.0)
            began_press = time.perf_counter()
            busy.press(position)
            durable.append(time.perf_counter() - began_press)
            if worker.busy:
                running.set()
            time.sleep(0.01)  # a listener's presses are far apart; keep the worker at it
    finally:
        worker.stop(timeout=30)
        busy.close()
    p99 = _pct(durable, 0.99) * 1000
    return [
        Figure(
            "c look-ahead: episode s per CPU s / bare whisper",
            lookahead_rate / bare_rate,
            target=">= 0.9",
            detail=f"{lookahead_rate:.1f} vs {bare_rate:.1f} audio s per CPU s, "
            f"{audio.duration:.0f} s episode",
        ),
        Figure(
            "c press -> durable highlight row while looking ahead, p99",
            p99,
            unit="ms",
            target="<= 50",
            detail=f"p50 {_pct(durable, 0.5) * 1000:.1f} ms over {len(durable)} presses"
            + ("" if running.is_set() else " (worker was never seen busy)"),
        ),
    ]


class _Entered:
    """The transcriber, telling when a call begins."""

    def __init__(self, inner: LocalTranscriber) -> None:
        self.inner = inner
        self.name = inner.name
        self.began = threading.Event()

    def transcribe(self, request: TranscribeRequest) -> Transcript:
        self.began.set()
        return self.inner.transcribe(request)

    def close(self) -> None:
        pass


def _press_with_worker(
    work: Path,
    episode: Path,
    audio: SpokenAudio,
    asr: LocalTranscriber,
    position: float,
    busy: bool,
    name: str,
    pick: random.Random,
) -> float:
    """Seconds from the press to its stored transcript, the job worker thread
    running the jobs; with ``busy``, pressed while a look-ahead chunk (of another
    episode, so the window is not stored) is being transcribed."""
    entered = _Entered(asr)
    box = _Box(work / name, episode, audio.duration, asr)
    box.lookahead = LookAhead(box.db, box.queue, lambda: entered, lambda: box.now)
    podcast = box.catalog.save_podcast("http://feeds.invalid/other.xml", "Other")
    other = box.catalog.save_episode(
        podcast, "o1", "Other", "http://feeds.invalid/o.mp3", duration=audio.duration
    )
    box.catalog.set_download(other, str(episode))
    box.now = NowPlaying(str(episode), 0.0, audio.duration, other, playing=True)
    runners: dict[str, Runner] = {kind: box.pipeline.run for kind in box.pipeline.handlers}
    runners[LOOKAHEAD] = box.lookahead.run
    worker = JobWorker(box.queue, box.book, runners, idle_seconds=0.05)
    worker.start()
    try:
        if busy:
            box.lookahead.follow(other)
            worker.notify()
            entered.began.wait(30)
            # a random moment of the chunk (45 s of audio: about two whisper windows)
            time.sleep(pick.uniform(0.0, 2.5))
        began = time.perf_counter()
        pressed = box.press(position)
        worker.notify()
        while True:
            highlight = box.book.get(pressed.id)
            if highlight is not None and highlight.status in (TRANSCRIBED, "done"):
                return time.perf_counter() - began
            if time.perf_counter() - began > 120:
                raise TimeoutError("the snip was not transcribed in 120 s")
            time.sleep(0.005)
    finally:
        worker.stop(timeout=60)
        box.close()


def _press_during_lookahead(
    work: Path, episode: Path, audio: SpokenAudio, asr: LocalTranscriber
) -> Figure:
    pick = random.Random(7)
    cold: list[float] = []
    busy: list[float] = []
    for i, position in enumerate(BUSY_PRESSES):
        cold.append(_press_with_worker(work, episode, audio, asr, position, False, f"c{i}", pick))
        busy.append(_press_with_worker(work, episode, audio, asr, position, True, f"b{i}", pick))
    ratio = _pct(busy, 0.95) / _pct(cold, 0.95)
    return Figure(
        "f press during a look-ahead chunk -> transcript, p95 / cold",
        ratio,
        target="<= 1.2",
        detail=f"p95 {_pct(busy, 0.95):.2f}s vs cold {_pct(cold, 0.95):.2f}s, p50 "
        f"{_pct(busy, 0.5):.2f}s vs {_pct(cold, 0.5):.2f}s, {len(busy)} presses each, "
        f"{WINDOW_BEFORE + WINDOW_AFTER:.0f} s window",
    )


_BARE_RSS = """
import resource
from faster_whisper import WhisperModel
from earmark.transcribe.local import pinned_model_path
model = WhisperModel(str(pinned_model_path()), device="cpu", compute_type="int8", cpu_threads=1)
pieces, _ = model.transcribe({audio!r}, language="en", beam_size=1, vad_filter=True,
                             word_timestamps=True)
list(pieces)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _peak_rss(work: Path, episode: Path) -> list[Figure]:
    from earmark import control

    # the bare process transcribes the same 60 s the daemon's snip does
    clip = work / "bare.wav"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-ss", "60", "-t", "60", "-i"]
        + [str(episode), "-ac", "1", "-ar", "16000", str(clip)],
        check=True,
    )
    bare = subprocess.run(
        [sys.executable, "-c", _BARE_RSS.format(audio=str(clip))],
        capture_output=True,
        text=True,
        check=True,
    )
    bare_mb = int(bare.stdout.strip().splitlines()[-1]) / 1024

    with speaker_config(work, episode, transcription={"lookahead": "ahead"}) as (config, port):
        daemon = subprocess.Popen(
            [sys.executable, "-m", "earmark", "-c", str(config), "run"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ},
        )
        socket_path = work / "data" / "earmark.sock"
        peak = 0.0
        try:
            _until(lambda: _playing(control, socket_path, 30.0), 90)
            reply = control.request(socket_path, "snip")
            database = work / "data" / "earmark.db"

            def settled() -> bool:
                nonlocal peak
                peak = max(peak, _vm_hwm_mb(daemon.pid))
                return _highlight_status(database, reply["id"]) == "done" and _looked_ahead(
                    database
                )

            _until(settled, 120)
            peak = max(peak, _vm_hwm_mb(daemon.pid))
        finally:
            daemon.terminate()
            daemon.wait(15)
    return [
        Figure(
            "e daemon peak RSS (playing, look-ahead, snip)",
            peak,
            unit="MB",
            target="<= 450",
            detail=f"bare tiny.en process {bare_mb:.0f} MB, ratio {peak / bare_mb:.2f}",
        )
    ]


def _until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"benchmark condition not met in {timeout:.0f}s")
        time.sleep(0.1)


def _playing(control: object, socket_path: Path, at_least: float) -> bool:
    try:
        player = control.request(socket_path, "status")["player"]  # type: ignore[attr-defined]
    except Exception:
        return False
    if player.get("status") == "playing" and player.get("position", 0) < at_least:
        control.request(socket_path, "seek", position=at_least + 30)  # type: ignore[attr-defined]
    return player.get("status") == "playing" and player.get("position", 0) >= at_least


def _highlight_status(database: Path, highlight_id: str) -> str | None:
    import sqlite3

    with sqlite3.connect(database, timeout=5) as conn:
        row = conn.execute("SELECT status FROM highlights WHERE id = ?", (highlight_id,)).fetchone()
    return row[0] if row else None


def _looked_ahead(database: Path) -> bool:
    import sqlite3

    with sqlite3.connect(database, timeout=5) as conn:
        spans = conn.execute("SELECT count(*) FROM transcribed_spans").fetchone()[0]
    return bool(spans >= 3)


__all__ = ["run"]
