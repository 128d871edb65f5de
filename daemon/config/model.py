"""The configuration schema: every option, its type and its default.

``config/earmark.example.yaml`` documents each of these; keep the two in step.
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from earmark.config.checks import (
    PORTS,
    OptionError,
    above,
    at_least,
    at_most,
    between,
    choose,
    language,
    topic_level,
    topic_prefix,
)
from earmark.config.choices import (
    AudioOutput,
    ComputeType,
    GpodderFlavour,
    LogLevel,
    Lookahead,
    SummarizerBackend,
    TranscriptionBackend,
)
from earmark.config.inputs import InputsConfig

# the speeds the player plays at
SPEEDS = (0.5, 3.0)
# a device id gpodder.net accepts; an environment variable's name
_GPODDER_DEVICE = re.compile(r"[\w.-]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BT_ADDRESS = re.compile(r"([0-9A-F]{2}:){5}[0-9A-F]{2}")
NEEDED = "is needed when gpodder sync is enabled"


def _data_home() -> Path:
    if os.geteuid() == 0 and not os.environ.get("XDG_DATA_HOME"):
        return Path("/var/lib/earmark")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "earmark"


def default_config_path() -> Path:
    env = os.environ.get("EARMARK_CONFIG")
    if env:
        return Path(env)
    if os.geteuid() == 0:
        return Path("/etc/earmark/earmark.yaml")
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "earmark" / "earmark.yaml"


@dataclass(frozen=True)
class MqttConfig:
    # None: earmark uses the broker on localhost:local_port, starting its own
    # mosquitto there when none answers.
    host: str | None = None
    port: int = 1883
    local_port: int = 1883
    username: str | None = None
    # the password: here, or the first line of password_file, or the environment
    # variable named by password_env (one of the three); never logged
    password: str | None = field(default=None, repr=False)
    password_file: Path | None = None
    password_env: str | None = None
    # TLS: the broker's certificate is checked against ca_file (None = the system's
    # CAs) and must name `host`; client_cert and client_key when the broker wants one
    tls: bool = False
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    topic_prefix: str = "earmark"
    keepalive: int = 30
    # a lost broker is tried again after min, doubling up to max, each wait jittered
    reconnect_min_seconds: int = 1
    reconnect_max_seconds: int = 60

    def __post_init__(self) -> None:
        between("port", self.port, *PORTS)
        between("local_port", self.local_port, *PORTS)
        between("keepalive", self.keepalive, 1, 65535)
        topic_prefix("topic_prefix", self.topic_prefix)
        between("reconnect_min_seconds", self.reconnect_min_seconds, 1, 3600)
        between("reconnect_max_seconds", self.reconnect_max_seconds, 1, 3600)
        if self.reconnect_max_seconds < self.reconnect_min_seconds:
            raise OptionError("reconnect_max_seconds", "must not be below reconnect_min_seconds")
        given = [n for n in ("password", "password_file", "password_env") if getattr(self, n)]
        if len(given) > 1:
            raise OptionError(given[1], f"give one of {' or '.join(given)}, not both")
        if given and not self.username:
            raise OptionError("username", f"is needed with {given[0]}")
        if self.password_env is not None and not _ENV_NAME.fullmatch(self.password_env):
            raise OptionError("password_env", f"'{self.password_env}' is not a variable name")
        for name in ("password_file", "ca_file", "client_cert", "client_key"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise OptionError(name, f"{path} does not exist (or is not a file)")
        if (self.client_cert is None) != (self.client_key is None):
            raise OptionError("client_key", "give client_cert and client_key together")
        for name in ("ca_file", "client_cert"):
            if getattr(self, name) is not None and not self.tls:
                raise OptionError(name, "is used only with tls: true; set it")


@dataclass(frozen=True)
class PlayerConfig:
    # mpv audio output: "auto", "null" (silent, for tests), "alsa", "pulse", "pipewire"
    audio_output: AudioOutput = AudioOutput.AUTO
    # mpv --audio-device, e.g. "alsa/plughw:1,0" or "pulse/bluez_sink.XX"; None = default
    audio_device: str | None = None
    skip_back: float = 15.0
    skip_forward: float = 30.0
    speed: float = 1.0
    volume: float = 80.0
    position_save_interval: float = 5.0
    # an episode counts as played once the listener is this close to its end
    played_near_end: float = 30.0
    autoplay: bool = True
    skip_silence: bool = False
    earcons: bool = True
    # play as fast as decoding allows (null output only; for tests and benchmarks)
    untimed: bool = False
    # a paired Bluetooth headset (AA:BB:CC:DD:EE:FF) that the speaker reconnects
    # whenever it comes back (`earmark headphones pair` pairs it)
    bluetooth_headset: str | None = None
    # where to play on while that headset is away (e.g. "alsa/plughw:0,0", the
    # Pi's jack); None = pause until it comes back
    fallback_audio_device: str | None = None

    def __post_init__(self) -> None:
        if self.bluetooth_headset is not None:
            headset = self.bluetooth_headset.upper()
            if not _BT_ADDRESS.fullmatch(headset):
                raise OptionError(
                    "bluetooth_headset",
                    f"'{self.bluetooth_headset}' is no address like AA:BB:CC:DD:EE:FF",
                )
            object.__setattr__(self, "bluetooth_headset", headset)
        if self.fallback_audio_device is not None:
            if self.bluetooth_headset is None:
                raise OptionError(
                    "fallback_audio_device", "is used only with bluetooth_headset; set that"
                )
            if not self.fallback_audio_device.strip():
                raise OptionError(
                    "fallback_audio_device", "is empty; leave it out to pause instead"
                )
            if self.fallback_audio_device == self.audio_device:
                raise OptionError(
                    "fallback_audio_device",
                    "is audio_device itself; name the output to play on while the headset is away",
                )
        choose(self, "audio_output", AudioOutput)
        at_least("skip_back", self.skip_back, 0)
        at_least("skip_forward", self.skip_forward, 0)
        between("speed", self.speed, *SPEEDS)
        between("volume", self.volume, 0, 100)
        above("position_save_interval", self.position_save_interval, 0)
        at_least("played_near_end", self.played_near_end, 0)


@dataclass(frozen=True)
class LibraryConfig:
    # subscribed at every start (`earmark subscribe URL` adds more)
    feeds: tuple[str, ...] = ()
    # generate and serve the bundled demo podcast (no internet needed)
    demo: bool = True
    download: bool = True
    # each podcast is refreshed this often (jittered by a tenth, so feeds spread out)
    refresh_minutes: float = 60.0
    # feeds fetched at once; each gets `connect_seconds` to answer and
    # `feed_seconds` in all, so one slow server delays nothing else
    refresh_concurrency: int = 4
    connect_seconds: float = 10.0
    feed_seconds: float = 60.0
    max_feed_mb: float = 64.0
    # the newest this many unplayed episodes of each podcast are downloaded; the rest stream
    keep_unplayed: int = 3
    # downloads stay within this; the oldest played go first (never one playing,
    # partly played in the last week, or with highlights)
    disk_budget_mb: float = 4096.0
    max_episode_mb: float = 1024.0

    def __post_init__(self) -> None:
        above("refresh_minutes", self.refresh_minutes, 0)
        between("refresh_concurrency", self.refresh_concurrency, 1, 32)
        above("connect_seconds", self.connect_seconds, 0)
        above("feed_seconds", self.feed_seconds, 0)
        above("max_feed_mb", self.max_feed_mb, 0)
        at_least("keep_unplayed", self.keep_unplayed, 0)
        above("disk_budget_mb", self.disk_budget_mb, 0)
        above("max_episode_mb", self.max_episode_mb, 0)


@dataclass(frozen=True)
class GpodderConfig:
    """Subscriptions and play positions shared with a gPodder account (docs/gpodder.md)."""

    enabled: bool = False
    # gpodder.net: https://gpodder.net; Nextcloud: its address, e.g. https://cloud.example.org
    server: str | None = None
    # "gpodder" (the gPodder API v2) or "nextcloud" (the GPodder Sync app)
    flavour: GpodderFlavour = GpodderFlavour.GPODDER
    username: str | None = None
    # or leave it out and name an environment variable that holds it in password_env
    password: str | None = field(default=None, repr=False)
    password_env: str | None = None
    # this speaker on gpodder.net; None = the speaker's device_id
    device_id: str | None = None
    interval_minutes: float = 15.0

    def __post_init__(self) -> None:
        choose(self, "flavour", GpodderFlavour)
        at_least("interval_minutes", self.interval_minutes, 1)
        if self.server is not None:
            parts = urllib.parse.urlsplit(self.server)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise OptionError(
                    "server", "must be an http(s) address such as https://gpodder.net"
                )
            if parts.username or parts.password:  # never echo it: it holds a password
                raise OptionError("server", "must not hold credentials: use username and password")
        if self.password_env is not None and not _ENV_NAME.fullmatch(self.password_env):
            raise OptionError("password_env", f"'{self.password_env}' is not a variable name")
        if self.password and self.password_env:
            raise OptionError("password_env", "give gpodder.password or password_env, not both")
        if not self.enabled:
            return
        if not self.server:
            raise OptionError("server", f"{NEEDED} (https://gpodder.net or your Nextcloud)")
        if not self.username:
            raise OptionError("username", NEEDED)
        if not self.password and not self.password_env:
            raise OptionError("password", f"{NEEDED} (or name a variable in password_env)")
        if self.device_id is not None and not _GPODDER_DEVICE.fullmatch(self.device_id):
            raise OptionError(
                "device_id", f"'{self.device_id}' may hold only letters, digits, . _ and -"
            )


@dataclass(frozen=True)
class SnipConfig:
    # "save what was just said": most of the window lies before the press
    before: float = 45.0
    after: float = 15.0
    snap_to_sentences: bool = True

    def __post_init__(self) -> None:
        at_least("before", self.before, 0)
        at_least("after", self.after, 0)
        if self.before + self.after <= 0:
            raise ValueError("snip.before and snip.after must not both be 0")


@dataclass(frozen=True)
class WyomingConfig:
    host: str = "127.0.0.1"
    port: int = 10300
    timeout: float = 60.0

    def __post_init__(self) -> None:
        between("port", self.port, *PORTS)
        above("timeout", self.timeout, 0)


@dataclass(frozen=True)
class OpenAIConfig:
    url: str = "http://127.0.0.1:8000/v1"
    model: str = "whisper-1"
    api_key: str | None = None
    timeout: float = 120.0

    def __post_init__(self) -> None:
        above("timeout", self.timeout, 0)


@dataclass(frozen=True)
class TranscriptionConfig:
    # "faster-whisper" (on the device), "wyoming" or "openai"
    backend: TranscriptionBackend = TranscriptionBackend.FASTER_WHISPER
    # a CTranslate2 Whisper folder; None = the pinned tiny.en package
    model_path: Path | None = None
    compute_type: ComputeType = ComputeType.INT8
    cpu_threads: int = 1
    beam_size: int = 1
    # "auto" or a code such as "de"; the model must know it (docs/languages.md). A
    # podcast whose feed names its language is transcribed in that one
    language: str = "en"
    vad: bool = True
    # a segment is low-confidence (kept, marked, never a takeaway) when faster-whisper's
    # mean token log-probability is below this, or its no-speech probability above this
    low_confidence_logprob: float = -1.0
    low_confidence_no_speech: float = 0.6
    # transcribe the playing episode ahead of the listener: "ahead", "behind" or "off"
    lookahead: Lookahead = Lookahead.AHEAD
    wyoming: WyomingConfig = field(default_factory=WyomingConfig)
    openai: OpenAIConfig = field(default_factory=OpenAIConfig)

    def __post_init__(self) -> None:
        choose(self, "backend", TranscriptionBackend)
        choose(self, "compute_type", ComputeType)
        choose(self, "lookahead", Lookahead)
        at_least("cpu_threads", self.cpu_threads, 1)
        at_least("beam_size", self.beam_size, 1)
        language("language", self.language)
        at_most("low_confidence_logprob", self.low_confidence_logprob, 0)
        between("low_confidence_no_speech", self.low_confidence_no_speech, 0, 1)


@dataclass(frozen=True)
class LlmConfig:
    # an OpenAI-compatible chat endpoint (llama-server, Ollama, a cloud API) that
    # refines each snip's takeaways in the background; None = no refinement
    url: str | None = None
    model: str = "default"
    # the API key: here or in the environment variable named by api_key_env; never logged
    api_key: str | None = field(default=None, repr=False)
    api_key_env: str | None = None
    timeout: float = 120.0
    max_tokens: int = 400

    def __post_init__(self) -> None:
        above("timeout", self.timeout, 0)
        at_least("max_tokens", self.max_tokens, 50)
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise OptionError("url", f"must start with http:// or https://, got '{self.url}'")
        if self.api_key_env is not None and not _ENV_NAME.fullmatch(self.api_key_env):
            raise OptionError("api_key_env", f"'{self.api_key_env}' is not a variable name")
        if self.api_key and self.api_key_env:
            raise OptionError("api_key_env", "give llm.api_key or api_key_env, not both")

    def key(self) -> str | None:
        """The API key, from the config or its environment variable."""
        if self.api_key_env is not None:
            return os.environ.get(self.api_key_env) or None
        return self.api_key


@dataclass(frozen=True)
class TakeawaysConfig:
    # "minilm" (on the device: sentence embeddings) or "extractive" (no model)
    backend: SummarizerBackend = SummarizerBackend.MINILM
    # the embedding model (an ONNX file) and its tokenizer.json; None = the pinned packages
    model_path: Path | None = None
    tokenizer_path: Path | None = None
    llm: LlmConfig = field(default_factory=LlmConfig)

    def __post_init__(self) -> None:
        choose(self, "backend", SummarizerBackend)


@dataclass(frozen=True)
class JobsConfig:
    max_attempts: int = 5
    backoff_seconds: float = 5.0

    def __post_init__(self) -> None:
        at_least("max_attempts", self.max_attempts, 1)
        at_least("backoff_seconds", self.backoff_seconds, 0)


@dataclass(frozen=True)
class OutboxConfig:
    # rows the broker acknowledged are deleted after this many days (unsent: never)
    retention_days: float = 7.0

    def __post_init__(self) -> None:
        at_least("retention_days", self.retention_days, 0)


@dataclass(frozen=True)
class HomeAssistantConfig:
    """MQTT discovery: Home Assistant sees the speaker by itself (docs/home-assistant.md)."""

    enabled: bool = True
    discovery_prefix: str = "homeassistant"
    # the companion dashboard's address: the device's "visit" link, highlight links
    dashboard_url: str | None = None

    def __post_init__(self) -> None:
        topic_prefix("discovery_prefix", self.discovery_prefix)


def _secret(value: str | None, env: str | None) -> str | None:
    """A token from the config or from the environment variable named for it."""
    if env is not None:
        return os.environ.get(env) or None
    return value


def _check_secret(section: object, token: str, env: str) -> None:
    value, name = getattr(section, token), getattr(section, env)
    if name is not None and not _ENV_NAME.fullmatch(name):
        raise OptionError(env, f"'{name}' is not a variable name")
    if value and name:
        raise OptionError(env, f"give {token} or {env}, not both")


@dataclass(frozen=True)
class MarkdownExportConfig:
    """One Markdown note per episode in a folder (an Obsidian vault, synced)."""

    folder: Path | None = None  # None: no Markdown export

    def __post_init__(self) -> None:
        if self.folder is not None and not str(self.folder).strip():
            raise OptionError("folder", "must name a folder")


class _Token:
    """A target reached with a token: in the config, or in the environment
    variable ``token_env`` names."""

    token: str | None
    token_env: str | None

    def key(self) -> str | None:
        return _secret(self.token, self.token_env)

    @property
    def enabled(self) -> bool:
        return bool(self.token or self.token_env)


@dataclass(frozen=True)
class ReadwiseConfig(_Token):
    # https://readwise.io/access_token; here or in the variable named by token_env
    token: str | None = field(default=None, repr=False)
    token_env: str | None = None
    base_url: str = "https://readwise.io"

    def __post_init__(self) -> None:
        _check_secret(self, "token", "token_env")
        _http_url("base_url", self.base_url)


@dataclass(frozen=True)
class NotionConfig(_Token):
    # an internal integration's token, shared with the database
    token: str | None = field(default=None, repr=False)
    token_env: str | None = None
    database_id: str | None = None
    base_url: str = "https://api.notion.com"

    def __post_init__(self) -> None:
        _check_secret(self, "token", "token_env")
        _http_url("base_url", self.base_url)
        if self.enabled and not self.database_id:
            raise OptionError("database_id", "is needed with a Notion token: the database to fill")


@dataclass(frozen=True)
class ExportsConfig:
    """Where highlights go when they are done, and again when they change."""

    markdown: MarkdownExportConfig = field(default_factory=MarkdownExportConfig)
    readwise: ReadwiseConfig = field(default_factory=ReadwiseConfig)
    notion: NotionConfig = field(default_factory=NotionConfig)
    # the dashboard's address, for links back to a highlight; None: the
    # home_assistant.dashboard_url, else no links
    dashboard_url: str | None = None
    timeout: float = 30.0

    def __post_init__(self) -> None:
        above("timeout", self.timeout, 0)
        if self.dashboard_url is not None:
            _http_url("dashboard_url", self.dashboard_url)


def _http_url(option: str, value: str) -> None:
    if not value.startswith(("http://", "https://")):
        raise OptionError(option, f"must start with http:// or https://, got '{value}'")


@dataclass(frozen=True)
class DashboardConfig:
    """The companion dashboard (``earmark dashboard``): where it listens and who may in."""

    host: str = "127.0.0.1"
    port: int = 8080
    # `earmark dashboard --hash-password` prints one; needed to listen beyond localhost
    password_hash: str | None = field(default=None, repr=False)
    # its own store (a mirror fed by MQTT); None = <data_dir>/dashboard
    data_dir: Path | None = None

    def __post_init__(self) -> None:
        between("port", self.port, *PORTS)
        if not self.host.strip():
            raise OptionError("host", "must name an address, e.g. 127.0.0.1 or 0.0.0.0")
        if self.password_hash is not None and not self.password_hash.startswith("scrypt$"):
            raise OptionError(
                "password_hash", "must be the line `earmark dashboard --hash-password` prints"
            )


@dataclass(frozen=True)
class Config:
    device_id: str = field(default_factory=lambda: socket.gethostname().split(".")[0])
    data_dir: Path = field(default_factory=_data_home)
    # the local control channel (a unix socket); None = <data_dir>/earmark.sock
    control_socket: Path | None = None
    log_level: LogLevel = LogLevel.INFO
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    player: PlayerConfig = field(default_factory=PlayerConfig)
    library: LibraryConfig = field(default_factory=LibraryConfig)
    snip: SnipConfig = field(default_factory=SnipConfig)
    transcription: TranscriptionConfig = field(default_factory=TranscriptionConfig)
    takeaways: TakeawaysConfig = field(default_factory=TakeawaysConfig)
    jobs: JobsConfig = field(default_factory=JobsConfig)
    inputs: InputsConfig = field(default_factory=InputsConfig)
    gpodder: GpodderConfig = field(default_factory=GpodderConfig)
    home_assistant: HomeAssistantConfig = field(default_factory=HomeAssistantConfig)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    dashboard: DashboardConfig = field(default_factory=DashboardConfig)
    exports: ExportsConfig = field(default_factory=ExportsConfig)

    def __post_init__(self) -> None:
        topic_level("device_id", self.device_id)
        choose(self, "log_level", LogLevel)
        if self.gpodder.device_id is None:  # the speaker's own, unless gpodder names one
            try:
                named = dataclasses.replace(self.gpodder, device_id=self.device_id)
            except OptionError:
                message = f"device_id '{self.device_id}' is no gPodder device id: set one"
                raise OptionError("gpodder", message) from None
            object.__setattr__(self, "gpodder", named)  # the sections are frozen

    @property
    def socket_path(self) -> Path:
        return self.control_socket or self.data_dir / "earmark.sock"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "earmark.db"
