"""``earmark doctor``: check what the speaker needs, one line per check.

Each check says what is wrong and what to do. The hardware checks (input
permissions, GPIO) come from the device adapters through the composition root.
The earcon check plays a real sound through the configured output, unless the
speaker is playing through it: doctor never talks over the listener.
"""

from __future__ import annotations

import ctypes.util
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from earmark import config as config_module
from earmark.config import Config
from earmark.config.loader import line_of
from earmark.config.model import TranscriptionConfig
from earmark.errors import ConfigError, EarmarkError, TranscriberError
from earmark.sync.broker import port_answers
from earmark.sync.home_broker import broker_address
from earmark.sync.mqtt import BrokerUnreachable, probe

# how long the broker check waits for each step (connect, TLS, CONNACK)
BROKER_TIMEOUT = 5.0
# how long the test earcon (under half a second) may take to start and play
EARCON_TIMEOUT = 10.0

Check = Callable[[Config], str]  # returns what is fine; raises EarmarkError with what is not


def check_transcriber(settings: TranscriptionConfig, config_path: Path | None = None) -> str:
    if settings.backend != "faster-whisper":
        return f"transcription by {settings.backend}"  # config has checked the name
    from earmark.transcribe.local import check_model_folder, pinned_model_path, refuses_language

    try:
        folder = check_model_folder(settings.model_path or pinned_model_path())
    except TranscriberError as exc:
        if settings.model_path is None:
            raise
        raise _config_error(config_path, "transcription.model_path", str(exc)) from None
    refusal = refuses_language(folder, settings.language)
    if refusal is not None:
        message = f"'{settings.language}': {refusal}"
        raise _config_error(config_path, "transcription.language", message)
    return f"whisper model {folder}"


def _config_error(path: Path | None, key: str, message: str) -> ConfigError:
    path = path or config_module.default_config_path()
    return ConfigError(
        str(path), message, line=line_of(path, key) if path.exists() else None, key=key
    )


def _mpv(cfg: Config) -> str:
    if ctypes.util.find_library("mpv") is None:
        raise EarmarkError("libmpv is missing: apt-get install libmpv2")
    from earmark.player.mpv_core import library_version  # loads libmpv

    return f"{library_version()} loads; audio output {cfg.player.audio_output}" + (
        f" device {cfg.player.audio_device}" if cfg.player.audio_device else ""
    )


def _earcon(cfg: Config) -> str:
    """A real earcon through the configured output, with the mpv command; skipped
    while the speaker plays, so the listener hears nothing of it."""
    from earmark import control
    from earmark.errors import NotRunningError

    try:
        speaker = control.request(cfg.socket_path, "status", timeout=5).get("player", {})
    except NotRunningError:
        speaker = None
    if speaker is not None and speaker.get("status") == "playing":
        return (
            f"not played: the speaker is playing through {cfg.player.audio_output} now"
            " (pause it and run doctor again to hear the test earcon)"
        )
    if shutil.which("mpv") is None:
        raise DoctorWarning(
            "cannot play a test earcon: the mpv command is missing (apt-get install mpv)"
        )
    from earmark.player.earcons import play_once

    try:
        return play_once(cfg.player, EARCON_TIMEOUT)
    except EarmarkError as exc:
        if speaker is None:
            raise
        # the paused speaker may hold a device that takes one client (hw:, BlueALSA)
        raise DoctorWarning(
            f"{exc}; the speaker is running and may hold the output: stop it"
            " (systemctl stop earmark) and run doctor again"
        ) from None


def _tools(cfg: Config) -> str:
    missing = [t for t in ("ffmpeg", "ffprobe") if shutil.which(t) is None]
    if missing:
        raise EarmarkError(f"{', '.join(missing)} missing: apt-get install ffmpeg")
    return "ffmpeg and ffprobe found"


def _broker(cfg: Config) -> str:
    """Connect as the speaker would (TLS, user, password) and name what fails."""
    address = broker_address(cfg.mqtt)
    if cfg.mqtt.host is None and not port_answers(address.host, address.port):
        if shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists():
            return f"no broker on {address}; earmark will start its own mosquitto there"
        raise EarmarkError("no broker configured and mosquitto missing: apt-get install mosquitto")
    try:
        # a client id of its own (the speaker's would make the broker drop the speaker),
        # starting with the speaker's, which a refusal names
        speaker = f"earmark-{cfg.device_id}"
        return probe(address, f"{speaker}-doctor", BROKER_TIMEOUT, speaker_id=speaker)
    except BrokerUnreachable as exc:
        raise EarmarkError(f"{exc}; snips wait in the outbox until it connects") from None


def _data_dir(cfg: Config) -> str:
    folder = cfg.data_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise EarmarkError(
            f"data dir {folder} is not writable ({exc.strerror}); set data_dir or fix its owner"
        ) from None
    free = shutil.disk_usage(folder).free / 2**20
    if free < 100:
        raise EarmarkError(f"data dir {folder} has only {free:.0f} MB free; snips need room")
    return f"data dir {folder} writable, {free:,.0f} MB free"


def _model(cfg: Config) -> str:
    return check_transcriber(cfg.transcription)


def _takeaways(cfg: Config) -> str:
    """The summarizer's model loads (its pinned files checked by sha256), and the LLM,
    when one is set, is named; a snip is done either way (a plain title at worst)."""
    settings = cfg.takeaways
    llm = f"; refined by {settings.llm.model} at {settings.llm.url}" if settings.llm.url else ""
    if settings.backend != "minilm":
        return f"takeaways by {settings.backend}{llm}"
    from earmark.takeaways.embeddings import Embedder

    try:
        Embedder(settings.model_path, settings.tokenizer_path)
    except EarmarkError as exc:
        raise EarmarkError(f"{exc}; until then snips get plain titles (extractive)") from None
    return f"takeaways by minilm (sentence embeddings){llm}"


def _exports(cfg: Config) -> str:
    """Each export target: parked (and why), or its token answered."""
    from earmark.export.registry import build_exporters, fingerprint
    from earmark.store.database import Database
    from earmark.store.exports import ExportBook

    exporters = build_exporters(cfg.exports)
    if not exporters:
        return "none configured"
    parked: dict[str, tuple[str, str]] = {}
    if cfg.database_path.exists():
        db = Database(cfg.database_path, read_only=True)
        try:
            parked = ExportBook(db).parked()
        finally:
            db.close()
    said, failed = [], []
    for name, exporter in exporters.items():
        try:
            said.append(f"{name}: {exporter.check()}")
        except EarmarkError as exc:
            failed.append(f"{name}: {exc}")
        if name in parked and parked[name][1] == fingerprint(cfg.exports, name):
            failed.append(f"{name} is parked ({parked[name][0]}); fix it and restart")
        elif name in parked:
            said.append(f"{name}'s settings changed since it was parked: the next start runs it")
    if failed:
        raise EarmarkError("; ".join(failed))
    return "; ".join(said)


class DoctorWarning(EarmarkError):
    """Works, but not as well as it should: a WARN line, not a failure."""


# the daemon's peak with tiny.en loaded, transcribing (README, bench pipeline e)
MODEL_NEEDS_MB = 450


def _clock(cfg: Config) -> str:
    """A Pi has no real-time clock: until NTP answers, the time is last boot's."""
    import shutil
    import subprocess
    import time

    if time.gmtime().tm_year < 2025:
        raise EarmarkError(
            f"the clock says {time.strftime('%Y-%m-%d')}: not set yet (no network time?);"
            " highlights would carry that date"
        )
    if shutil.which("timedatectl") is None:
        raise DoctorWarning("cannot tell whether the clock is synchronised (no timedatectl)")
    try:
        answer = subprocess.run(
            ["timedatectl", "show", "--property=NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DoctorWarning(f"cannot ask timedatectl whether the clock is synced: {exc}") from None
    if answer.returncode != 0:
        raise DoctorWarning("cannot tell whether the clock is synchronised (no systemd here?)")
    if answer.stdout.strip() != "yes":
        raise DoctorWarning("the clock is not synchronised with network time (timedatectl)")
    return "synchronised with network time"


def _memory(cfg: Config) -> str:
    """Free memory against what the speaker needs with its model loaded."""
    fields = {}
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            name, _, rest = line.partition(":")
            fields[name] = int(rest.split()[0]) // 1024  # kB -> MB
    total, available = fields.get("MemTotal", 0), fields.get("MemAvailable", 0)
    said = (
        f"{available:,} MB available of {total:,} MB; the speaker needs about {MODEL_NEEDS_MB} MB"
    )
    if available < MODEL_NEEDS_MB:
        raise DoctorWarning(f"{said}: transcription may be slow or killed (close something?)")
    return said


def _store(cfg: Config) -> str:
    from earmark.store.safekeeping import health

    return health(cfg.database_path)


def run(cfg: Config, out: Callable[[str], None], extra: tuple[tuple[str, Check], ...] = ()) -> int:
    checks: tuple[tuple[str, Check], ...] = (
        ("mpv", _mpv),
        ("earcon", _earcon),
        ("ffmpeg", _tools),
        ("broker", _broker),
        ("data", _data_dir),
        ("store", _store),
        ("model", _model),
        ("takeaways", _takeaways),
        ("exports", _exports),
        ("clock", _clock),
        ("memory", _memory),
        *extra,
    )
    failed = 0
    for name, check in checks:
        try:
            out(f"ok    {name:<8} {check(cfg)}")
        except DoctorWarning as exc:
            out(f"WARN  {name:<8} {exc}")
        except EarmarkError as exc:
            failed += 1
            out(f"FAIL  {name:<8} {exc}")
    if os.geteuid() != 0:
        out("note  run as the service user to check its permissions")
    return 1 if failed else 0
