"""A config file that holds a secret (a token, a password) must not be readable
by everyone on the box: ``config check`` warns, and a speaker started by
systemd refuses to start until it is fixed (chmod 600, or the secret moved to
an environment variable or a file of its own)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from earmark.config.model import Config
from earmark.errors import ConfigError


def secrets_in(cfg: Config) -> list[str]:
    """The options of ``cfg`` that hold a secret written in the file itself."""
    found = []
    if cfg.mqtt.password:
        found.append("mqtt.password")
    if cfg.takeaways.llm.api_key:
        found.append("takeaways.llm.api_key")
    if cfg.exports.readwise.token:
        found.append("exports.readwise.token")
    if cfg.exports.notion.token:
        found.append("exports.notion.token")
    if cfg.dashboard.password_hash:
        found.append("dashboard.password_hash")
    return found


def exposure(path: Path | None, cfg: Config) -> str | None:
    """Why the file at ``path`` exposes a secret, in one line; None when it does not."""
    if path is None or not path.exists():
        return None
    held = secrets_in(cfg)
    mode = path.stat().st_mode
    if not held or not mode & (stat.S_IROTH | stat.S_IWOTH):
        return None
    return (
        f"it holds {', '.join(held)} and every user can read it "
        f"(mode {stat.filemode(mode)}): chmod 600 {path}, or give the secret by "
        "environment variable (token_env, password_env, api_key_env)"
    )


def refuse_exposed(path: Path | None, cfg: Config) -> None:
    """Under systemd, an exposed secret stops the start (a service is forever)."""
    why = exposure(path, cfg)
    if why is not None and os.environ.get("INVOCATION_ID"):
        raise ConfigError(str(path), why)
