"""earmark's configuration: one YAML file, defaults for everything, typed."""

import os
from pathlib import Path

from earmark.config.loader import load_file, load_text
from earmark.config.model import Config, default_config_path

__all__ = ["Config", "default_config_path", "load", "load_file", "load_text"]


def load(path: "str | Path | None" = None) -> Config:
    """The config at ``path``; with no path, the file ``$EARMARK_CONFIG`` names (which
    must exist), else the default file if present, else defaults."""
    if path is not None:
        return load_file(Path(path), Config)
    named = os.environ.get("EARMARK_CONFIG")
    if named:
        return load_file(Path(named), Config, named_by="$EARMARK_CONFIG")
    candidate = default_config_path()
    try:
        present = candidate.exists()
    except OSError:  # a folder above it this user may not enter: reading it says so
        present = True
    return load_file(candidate, Config) if present else Config()
