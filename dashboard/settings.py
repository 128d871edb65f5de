"""What the dashboard is given by whoever starts it (the CLI builds this from
the config file): where to listen, which broker, where to keep its store.

The dashboard imports nothing from the core but the shared payload schema, so
these are its own plain values, not the core's config sections."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Broker:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    keepalive: int = 30


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8080
    broker: Broker = field(default_factory=Broker)
    topic_prefix: str = "earmark"
    # scrypt$...: required when listening beyond localhost (see security.py)
    password_hash: str | None = field(default=None, repr=False)
    # how long a control waits for the speaker's answer on cmd/result
    command_timeout: float = 10.0

    @property
    def database_path(self) -> Path:
        return self.data_dir / "dashboard.db"

    @property
    def local_only(self) -> bool:
        return self.host in LOCAL_HOSTS

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        shown = "127.0.0.1" if host in ("0.0.0.0", "[::]") else host
        return f"http://{shown}:{self.port}/"
