"""The bundled demo podcast, made on the box so a newcomer with no internet
sees the whole loop: subscribe, play, snip, transcribe.

The show's text lives in ``demo/show.yaml``. The audio (espeak-ng speech, MP3
with ID3 chapters), the JSON chapters and the one publisher transcript are
built once and cached in the folder with a manifest; ``feed.xml`` is rendered
again on every call because the file server's port changes every run.

Each episode lasts about four and a half minutes with four or five chapters,
so several snips, the look-ahead and chapter skips can be tried without
running out. The last chapter is a recap that speaks the episode's sentences
once more (see ``show.yaml``): half the text to write and to keep clear for
Whisper. Building all three episodes (149 sentences, 13.6 minutes of MP3)
took 10 s on the development machine (x86_64, 2 shared cores): 4.8 s of
espeak-ng and sox, 5.6 s of MP3 encoding. It happens once; later starts read
the cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from earmark.library.speech import Chapter, SpokenSentence, encode, synthesize

log = logging.getLogger(__name__)

FEED_FILE = "feed.xml"
COVER_FILE = "cover.png"
MANIFEST_FILE = "demo.json"
# Bump when the files the demo writes change shape, so old caches rebuild.
FORMAT = 2
PAUSE = 0.7

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST = "https://podcastindex.org/namespace/1.0"


@dataclass(frozen=True)
class DemoEpisode:
    slug: str
    title: str
    description: str
    published: datetime
    audio_file: str
    duration: float
    size: int
    chapters: tuple[Chapter, ...]
    chapters_file: str
    transcript_file: str | None
    # exactly when each sentence is spoken, so tests can score transcripts
    sentences: tuple[SpokenSentence, ...]

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)


@dataclass(frozen=True)
class DemoShow:
    title: str
    author: str
    description: str
    language: str
    episodes: tuple[DemoEpisode, ...]


def build_demo(folder: Path, base_url: str) -> Path:
    """Make the demo podcast in ``folder`` (audio cached) and return its feed
    file, whose links all start with ``base_url``."""
    show = build_demo_show(folder)
    return render_feed(show, folder, base_url)


def build_demo_show(folder: Path) -> DemoShow:
    """Build the demo's audio, chapters and transcript unless the cache in
    ``folder`` already matches ``show.yaml``."""
    text = resources.files("earmark.library").joinpath("demo/show.yaml").read_bytes()
    key = hashlib.sha256(text + f"format={FORMAT} pause={PAUSE}".encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    cached = _load_manifest(folder, key)
    if cached is not None:
        return cached
    log.info("demo podcast building folder=%s", folder)
    show = _build(yaml.safe_load(text), folder)
    _write_atomically(folder / MANIFEST_FILE, json.dumps(_manifest(show, key), indent=1))
    log.info("demo podcast built episodes=%d", len(show.episodes))
    return show


def render_feed(show: DemoShow, folder: Path, base_url: str) -> Path:
    """Write ``feed.xml`` for ``show`` with every link under ``base_url``."""
    base = base_url.rstrip("/")
    ET.register_namespace("itunes", ITUNES)
    ET.register_namespace("podcast", PODCAST)
    rss = ET.Element("rss", {"version": "2.0"})
    channel = ET.SubElement(rss, "channel")
    _text(channel, "title", show.title)
    _text(channel, "link", f"{base}/")
    _text(channel, "description", show.description)
    _text(channel, "language", show.language)
    _text(channel, f"{{{ITUNES}}}author", show.author)
    ET.SubElement(channel, f"{{{ITUNES}}}image", {"href": f"{base}/{COVER_FILE}"})
    image = ET.SubElement(channel, "image")
    _text(image, "url", f"{base}/{COVER_FILE}")
    _text(image, "title", show.title)
    _text(image, "link", f"{base}/")
    for episode in sorted(show.episodes, key=lambda e: e.published, reverse=True):
        item = ET.SubElement(channel, "item")
        _text(item, "title", episode.title)
        _text(item, "description", episode.description)
        _text(item, "guid", f"earmark-demo-{episode.slug}").set("isPermaLink", "false")
        _text(item, "pubDate", format_datetime(episode.published, usegmt=True))
        ET.SubElement(
            item,
            "enclosure",
            {
                "url": f"{base}/{episode.audio_file}",
                "type": "audio/mpeg",
                "length": str(episode.size),
            },
        )
        _text(item, f"{{{ITUNES}}}duration", str(round(episode.duration)))
        ET.SubElement(
            item,
            f"{{{PODCAST}}}chapters",
            {"url": f"{base}/{episode.chapters_file}", "type": "application/json+chapters"},
        )
        if episode.transcript_file:
            ET.SubElement(
                item,
                f"{{{PODCAST}}}transcript",
                {
                    "url": f"{base}/{episode.transcript_file}",
                    "type": "text/vtt",
                    "language": show.language,
                },
            )
    ET.indent(rss)
    feed = folder / FEED_FILE
    # the file server may be serving the old feed while we write the new one
    _write_atomically(feed, ET.tostring(rss, encoding="unicode", xml_declaration=True) + "\n")
    return feed


def _build(spec: dict[str, Any], folder: Path) -> DemoShow:
    meta = spec["show"]
    episodes = []
    # the WAV files are only a step on the way to MP3: keep them out of the folder
    with tempfile.TemporaryDirectory(dir=folder, prefix=".speech-") as work:
        for number, raw in enumerate(spec["episodes"], 1):
            episodes.append(_build_episode(raw, number, folder, Path(work)))
    _make_cover(folder / COVER_FILE)
    return DemoShow(
        meta["title"],
        meta["author"],
        meta["description"].strip(),
        meta.get("language", "en-us"),
        tuple(episodes),
    )


def _build_episode(raw: dict[str, Any], number: int, folder: Path, work: Path) -> DemoEpisode:
    slug = str(raw["slug"])
    written = [str(s) for s in raw["sentences"]]
    marks = [(int(c["sentence"]), str(c["title"])) for c in raw["chapters"]]
    said = written
    recap = raw.get("recap")
    if recap:
        # the recap goes over the body (all but the welcome and the goodbye) again,
        # between its intro and the goodbye, which stays last
        marks.append((len(written) - 1, str(recap["title"])))
        said = [*written[:-1], str(recap["intro"]), *written[1:-1], written[-1]]
    spoken = synthesize(said, work, pause=PAUSE)
    # a chapter begins where its first sentence is heard; the first one at the top
    chapters = tuple(
        Chapter(0.0 if at == 0 else spoken.sentences[at].start, title) for at, title in marks
    )
    audio_file = f"{number:02d}-{slug}.mp3"
    encode(
        spoken.wav,
        folder / audio_file,
        title=str(raw["title"]),
        chapters=chapters,
        duration=spoken.duration,
    )
    chapters_file = f"{number:02d}-{slug}.chapters.json"
    _write_atomically(
        folder / chapters_file,
        json.dumps(
            {
                "version": "1.2.0",
                "chapters": [{"startTime": c.start, "title": c.title} for c in chapters],
            },
            indent=1,
        ),
    )
    transcript_file = None
    if raw.get("transcript"):
        transcript_file = f"{number:02d}-{slug}.vtt"
        _write_atomically(folder / transcript_file, webvtt(spoken.sentences))
    published = raw["published"]
    if isinstance(published, str):
        published = datetime.fromisoformat(published)
    return DemoEpisode(
        slug=slug,
        title=str(raw["title"]),
        description=str(raw["description"]).strip(),
        published=published,
        audio_file=audio_file,
        duration=spoken.duration,
        size=(folder / audio_file).stat().st_size,
        chapters=chapters,
        chapters_file=chapters_file,
        transcript_file=transcript_file,
        sentences=spoken.sentences,
    )


def webvtt(sentences: tuple[SpokenSentence, ...]) -> str:
    """A WebVTT transcript with one cue per sentence, at its exact time."""
    cues = [f"{_vtt_time(s.start)} --> {_vtt_time(s.end)}\n{s.text}\n" for s in sentences]
    return "WEBVTT\n\n" + "\n".join(cues)


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def _make_cover(path: Path) -> None:
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "color=c=0xc8843c:s=300x300",
            "-frames:v",
            "1",
            str(path),
        ],
        check=True,
        capture_output=True,
    )


def _manifest(show: DemoShow, key: str) -> dict[str, Any]:
    return {
        "key": key,
        "show": {
            "title": show.title,
            "author": show.author,
            "description": show.description,
            "language": show.language,
        },
        "episodes": [
            {
                "slug": e.slug,
                "title": e.title,
                "description": e.description,
                "published": e.published.isoformat(),
                "audio_file": e.audio_file,
                "duration": e.duration,
                "size": e.size,
                "chapters": [[c.start, c.title] for c in e.chapters],
                "chapters_file": e.chapters_file,
                "transcript_file": e.transcript_file,
                "sentences": [[s.start, s.end, s.text] for s in e.sentences],
            }
            for e in show.episodes
        ],
    }


def _load_manifest(folder: Path, key: str) -> DemoShow | None:
    try:
        data = json.loads((folder / MANIFEST_FILE).read_text())
    except (OSError, ValueError):
        return None
    if data.get("key") != key:
        return None
    episodes = tuple(
        DemoEpisode(
            slug=e["slug"],
            title=e["title"],
            description=e["description"],
            published=datetime.fromisoformat(e["published"]),
            audio_file=e["audio_file"],
            duration=e["duration"],
            size=e["size"],
            chapters=tuple(Chapter(start, title) for start, title in e["chapters"]),
            chapters_file=e["chapters_file"],
            transcript_file=e["transcript_file"],
            sentences=tuple(SpokenSentence(*s) for s in e["sentences"]),
        )
        for e in data["episodes"]
    )
    needed = [COVER_FILE] + [
        f for e in episodes for f in (e.audio_file, e.chapters_file, e.transcript_file) if f
    ]
    if not all((folder / name).is_file() for name in needed):
        return None
    show = data["show"]
    return DemoShow(show["title"], show["author"], show["description"], show["language"], episodes)


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = text
    return element


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
