"""End-to-end snip: CLI press -> clip -> faster-whisper -> highlight on MQTT,
against bare faster-whisper transcribing the same window, in the same run."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from bench import Figure
from bench.episodes import bread_episode
from bench.speaker import speaker_config
from earmark import control

WINDOWS = (20.0, 55.0, 90.0, 125.0)  # press positions, windows far enough apart
BEFORE, AFTER = 15.0, 5.0


def _bare_seconds(episode: Path, start: float, end: float) -> float:
    from faster_whisper import WhisperModel, decode_audio

    from earmark.transcribe.local import pinned_model_path

    model = WhisperModel(str(pinned_model_path()), device="cpu", compute_type="int8", cpu_threads=1)
    audio = decode_audio(str(episode))[int(start * 16000) : int(end * 16000)]
    began = time.perf_counter()
    segments, _ = model.transcribe(
        audio, language="en", beam_size=1, vad_filter=True, word_timestamps=True
    )
    list(segments)
    return time.perf_counter() - began


def run() -> list[Figure]:
    work = Path(tempfile.mkdtemp(prefix="earmark-bench-snip-"))
    (work / "www").mkdir()
    episode, _ = bread_episode(work / "www", repeats=2)
    with speaker_config(
        work,
        episode,
        snip={"before": BEFORE, "after": AFTER},
        transcription={"lookahead": "off"},
    ) as (config, port):
        done: dict[str, float] = {}
        listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        listener.on_connect = lambda c, *a: c.subscribe("earmark/bench/highlight", qos=1)

        def on_message(client: object, userdata: object, message: mqtt.MQTTMessage) -> None:
            payload = json.loads(message.payload)
            if payload["status"] == "done":
                done.setdefault(payload["id"], time.perf_counter())

        listener.on_message = on_message
        listener.connect("127.0.0.1", port)
        listener.loop_start()
        daemon = subprocess.Popen(
            [sys.executable, "-m", "earmark", "-c", str(config), "run"],
            stdout=subprocess.DEVNULL,
            env={**os.environ},
        )
        socket_path = work / "data" / "earmark.sock"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if control.request(socket_path, "status")["player"]["status"] == "playing":
                        break
                except Exception:
                    pass
                time.sleep(0.2)
            e2e: list[float] = []
            bare: list[float] = []
            for position in WINDOWS:
                assert control.request(socket_path, "seek", position=position)["ok"]
                time.sleep(0.3)
                began = time.perf_counter()
                reply = control.request(socket_path, "snip")
                while reply["id"] not in done and time.perf_counter() - began < 120:
                    time.sleep(0.01)
                e2e.append(done[reply["id"]] - began)
                bare.append(_bare_seconds(episode, reply["start"], reply["end"]))
        finally:
            daemon.terminate()
            daemon.wait(10)
            listener.loop_stop()
    shutil.rmtree(work, ignore_errors=True)
    ratio = statistics.median(e2e) / statistics.median(bare)
    return [
        Figure(
            "snip: press -> done highlight on MQTT / bare whisper",
            ratio,
            target="",
            detail=f"median {statistics.median(e2e):.2f}s vs {statistics.median(bare):.2f}s, "
            f"{len(WINDOWS)} snips of {BEFORE + AFTER:.0f}s",
        )
    ]
