"""Real speech from known text, with the time of every sentence.

The demo podcast and the tests are made this way (espeak-ng, sox, ffmpeg), so
the words spoken in any window are known and word error rate is measurable.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from earmark.player.state import Chapter

SAMPLE_RATE = 16000

__all__ = ["Chapter", "SpokenAudio", "SpokenSentence", "encode", "synthesize"]


@dataclass(frozen=True)
class SpokenSentence:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class SpokenAudio:
    wav: Path
    duration: float
    sentences: tuple[SpokenSentence, ...]

    def words_between(self, start: float, end: float) -> str:
        """The text of every sentence that lies mostly inside [start, end]."""
        picked = [
            s.text
            for s in self.sentences
            if min(s.end, end) - max(s.start, start) > 0.5 * (s.end - s.start)
        ]
        return " ".join(picked)


def _run(cmd: Sequence[str]) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def _duration(wav: Path) -> float:
    # 16-bit mono PCM with a 44-byte header, as sox writes it
    return (wav.stat().st_size - 44) / (2 * SAMPLE_RATE)


def synthesize(
    sentences: Sequence[str],
    out_dir: Path,
    *,
    pause: float = 0.7,
    lead_in: float = 0.5,
    voice: str = "en-us",
    words_per_minute: int = 150,
) -> SpokenAudio:
    """Speak ``sentences`` one after another with ``pause`` seconds between them.

    The result is cached in ``out_dir`` by the hash of its inputs, so asking
    again for the same speech is free.
    """
    key = hashlib.sha256(
        json.dumps([list(sentences), pause, lead_in, voice, words_per_minute]).encode()
    ).hexdigest()[:16]
    out_dir.mkdir(parents=True, exist_ok=True)
    wav = out_dir / f"speech-{key}.wav"
    meta = out_dir / f"speech-{key}.json"
    if wav.exists() and meta.exists():
        data = json.loads(meta.read_text())
        return SpokenAudio(
            wav, data["duration"], tuple(SpokenSentence(**s) for s in data["sentences"])
        )
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        work = Path(tmp)
        silence = work / "pause.wav"
        _silence(silence, pause)
        parts: list[Path] = []
        timings: list[SpokenSentence] = []
        t = 0.0
        if lead_in > 0:
            lead = work / "lead.wav"
            _silence(lead, lead_in)
            parts.append(lead)
            t = _duration(lead)
        for i, text in enumerate(sentences):
            raw = work / f"raw{i}.wav"
            clean = work / f"s{i}.wav"
            _run(["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(raw), text])
            _run(["sox", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(clean)])
            length = _duration(clean)
            timings.append(SpokenSentence(round(t, 3), round(t + length, 3), text))
            parts.append(clean)
            t += length
            if i < len(sentences) - 1:
                parts.append(silence)
                t += _duration(silence)
        joined = work / "joined.wav"
        _run(["sox", *map(str, parts), str(joined)])
        duration = _duration(joined)
        shutil.move(joined, wav)
        # the timings last, in one rename: whoever finds them finds the audio whole
        timed = work / "meta.json"
        said = [asdict(s) for s in timings]
        timed.write_text(json.dumps({"duration": duration, "sentences": said}))
        timed.replace(meta)
    return SpokenAudio(wav, duration, tuple(timings))


def _silence(path: Path, seconds: float) -> None:
    _run(
        [
            "sox",
            "-n",
            "-r",
            str(SAMPLE_RATE),
            "-c",
            "1",
            "-b",
            "16",
            str(path),
            "trim",
            "0",
            f"{seconds:.3f}",
        ]
    )


def encode(
    wav: Path,
    out: Path,
    *,
    title: str = "",
    chapters: Sequence[Chapter] = (),
    duration: float | None = None,
) -> Path:
    """Encode ``wav`` to ``out`` (format from its suffix: .mp3, .opus, .m4a),
    embedding chapters (ID3 CHAP frames for MP3) when given."""
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav)]
    if chapters:
        end = duration if duration is not None else _duration(wav)
        meta = out.with_suffix(out.suffix + ".ffmeta")
        lines = [";FFMETADATA1", f"title={title}"]
        for i, ch in enumerate(chapters):
            stop = chapters[i + 1].start if i + 1 < len(chapters) else end
            lines += [
                "[CHAPTER]",
                "TIMEBASE=1/1000",
                f"START={int(ch.start * 1000)}",
                f"END={int(stop * 1000)}",
                f"title={ch.title}",
            ]
        meta.write_text("\n".join(lines) + "\n")
        cmd += ["-i", str(meta), "-map_metadata", "1", "-map_chapters", "1", "-map", "0:a"]
    elif title:
        cmd += ["-metadata", f"title={title}"]
    if out.suffix == ".mp3":
        cmd += ["-c:a", "libmp3lame", "-b:a", "48k", "-id3v2_version", "3"]
    elif out.suffix == ".opus":
        cmd += ["-c:a", "libopus", "-b:a", "24k"]
    elif out.suffix == ".m4a":
        cmd += ["-c:a", "aac", "-b:a", "48k"]
    _run([*cmd, str(out)])
    if chapters:
        out.with_suffix(out.suffix + ".ffmeta").unlink(missing_ok=True)
    return out
