"""Fixtures with real components: mosquitto, an HTTP server with Range, espeak-ng
episodes with known text, mpv with null audio output, a config and data dir."""

from __future__ import annotations

import locale
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from earmark.library.fileserver import FileServer
from earmark.library.speech import Chapter, SpokenAudio, encode, synthesize
from earmark.sync.broker import LocalBroker, free_port

from .daemon_process import Daemon
from .support import MqttListener, write_feed

# Sentences of a made-up show, each long enough for Whisper to hear clearly.
GARDEN_SENTENCES = (
    "Welcome back to the slow garden, a podcast about growing food in small spaces.",
    "Today we talk about compost, and why your kitchen scraps are worth more than you think.",
    "A good compost pile needs green material, brown material, air and a little water.",
    "Green material is rich in nitrogen, like coffee grounds and fresh grass clippings.",
    "Brown material gives carbon, such as dry leaves, straw and torn cardboard.",
    "Turn the pile every week so that the microbes in the middle can breathe.",
    "If the pile smells bad, add more brown material and mix it well.",
    "After about three months you will have dark soil that smells like a forest floor.",
    "Spread it around your tomatoes and they will thank you with a heavy harvest.",
    "Next week we will look at saving seeds from the plants you loved this year.",
    "Thank you for listening, and may your garden grow well.",
)

SPEECH_CACHE = Path(tempfile.gettempdir()) / "earmark-test-speech"


@dataclass(frozen=True)
class Episode:
    path: Path
    audio: SpokenAudio
    chapters: tuple[Chapter, ...]

    @property
    def duration(self) -> float:
        return self.audio.duration


@pytest.fixture(scope="session")
def make_episode(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Episode]:
    """Make an episode file from known sentences (cached across tests)."""
    out_root = tmp_path_factory.mktemp("episodes")

    def make(
        sentences: Sequence[str] = GARDEN_SENTENCES,
        name: str = "episode.mp3",
        chapters: Sequence[Chapter] = (),
        pause: float = 0.7,
    ) -> Episode:
        audio = synthesize(sentences, SPEECH_CACHE, pause=pause)
        path = encode(
            audio.wav, out_root / name, title=name, chapters=chapters, duration=audio.duration
        )
        return Episode(path, audio, tuple(chapters))

    return make


@pytest.fixture(scope="session")
def garden_episode(make_episode: Callable[..., Episode]) -> Episode:
    chapters = (Chapter(0.0, "Welcome"), Chapter(20.0, "Compost"), Chapter(40.0, "Harvest"))
    return make_episode(GARDEN_SENTENCES, "garden.mp3", chapters=chapters)


@pytest.fixture
def garden_feed(tmp_path: Path, garden_episode: Episode) -> Iterator[str]:
    """The garden episode in a one-episode feed on a local HTTP server: its URL."""
    root = tmp_path / "podcast"
    root.mkdir()
    shutil.copy(garden_episode.path, root / "garden.mp3")
    with FileServer(root) as server:
        yield write_feed(
            root, server.base_url, "The Slow Garden", [("garden-1", "Compost", "garden.mp3")]
        )


@pytest.fixture
def garden_config(
    write_config: Callable[..., Path], broker: LocalBroker, garden_feed: str
) -> Callable[..., Path]:
    """A speaker config on the test broker with the garden feed, plus ``overrides``."""

    def write(overrides: dict | None = None) -> Path:
        garden = {
            "mqtt": {"host": "127.0.0.1", "port": broker.port},
            "library": {"demo": False, "feeds": [garden_feed]},
        }
        return write_config({**garden, **(overrides or {})})

    return write


@pytest.fixture
def garden_daemon(garden_config: Callable[..., Path], tmp_path: Path) -> Iterator[Daemon]:
    """The daemon playing the garden feed, look-ahead off, on the test broker."""
    running = Daemon(
        garden_config({"transcription": {"lookahead": "off"}}), tmp_path / "daemon.log"
    )
    try:
        running.wait_playing()
        yield running
    finally:
        running.terminate()


@pytest.fixture
def broker() -> Iterator[LocalBroker]:
    with LocalBroker(free_port()) as running:
        yield running


@pytest.fixture
def mqtt_listener(broker: LocalBroker) -> Iterator[MqttListener]:
    listener = MqttListener(broker.port)
    yield listener
    listener.close()


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[FileServer]:
    root = tmp_path / "www"
    root.mkdir()
    with FileServer(root) as server:
        yield server


@pytest.fixture
def mpv_player() -> Iterator[object]:
    import mpv

    locale.setlocale(locale.LC_NUMERIC, "C")
    player = mpv.MPV(ao="null", vo="null", video=False, ytdl=False)
    yield player
    player.terminate()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def write_config(tmp_path: Path, data_dir: Path) -> Callable[..., Path]:
    """Write an earmark config (dict, merged over test defaults) and return its path."""

    def write(overrides: dict | None = None, name: str = "earmark.yaml") -> Path:
        config: dict = {
            "device_id": "testbox",
            "data_dir": str(data_dir),
            "control_socket": str(tmp_path / "earmark.sock"),
            # a broker of its own when the test names none: tests run side by side
            "mqtt": {"local_port": free_port()},
            "log_level": "debug",
            "player": {"audio_output": "null", "earcons": False},
            "library": {"demo": False},
        }
        for key, value in (overrides or {}).items():
            if isinstance(value, dict) and isinstance(config.get(key), dict):
                config[key] = {**config[key], **value}
            else:
                config[key] = value
        path = tmp_path / name
        path.write_text(yaml.safe_dump(config))
        return path

    return write


def pytest_sessionstart(session: pytest.Session) -> None:
    missing = [
        tool
        for tool in ("mpv", "mosquitto", "ffmpeg", "espeak-ng", "sox")
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists()
    ]
    if missing:
        raise pytest.UsageError(
            f"missing system tools: {', '.join(missing)}; run ./earmark.sh test"
        )
