"""earmark's configuration: one YAML file, defaults for everything, typed."""

from pathlib import Path

from earmark.config.loader import load_file, load_text
from earmark.config.model import Config, default_config_path

__all__ = ["Config", "default_config_path", "load", "load_file", "load_text"]


def load(path: "str | Path | None" = None) -> Config:
    """The config at ``path``; with no path, the default file if present, else defaults."""
    if path is None:
        candidate = default_config_path()
        if not candidate.exists():
            return Config()
        path = candidate
    return load_file(Path(path), Config)
