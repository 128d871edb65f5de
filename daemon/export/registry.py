"""The export targets, by config name: each module exposes a class built from
the ``exports`` section; adding a target is one new module and one entry here.
A target is built only when its section is filled in."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from earmark.config.model import ExportsConfig
from earmark.export.base import Exporter

Factory = Callable[[ExportsConfig], Exporter | None]


def _markdown(config: ExportsConfig) -> Exporter | None:
    from earmark.export.markdown import MarkdownExporter

    folder = config.markdown.folder
    return MarkdownExporter(folder) if folder is not None else None


def _readwise(config: ExportsConfig) -> Exporter | None:
    if not config.readwise.enabled:
        return None
    from earmark.export.readwise import ReadwiseExporter

    return ReadwiseExporter(config.readwise, config.timeout)


def _notion(config: ExportsConfig) -> Exporter | None:
    if not config.notion.enabled:
        return None
    from earmark.export.notion import NotionExporter

    return NotionExporter(config.notion, config.timeout)


EXPORTERS: dict[str, Factory] = {
    "markdown": _markdown,
    "readwise": _readwise,
    "notion": _notion,
}


def build_exporters(config: ExportsConfig) -> dict[str, Exporter]:
    built = {name: factory(config) for name, factory in EXPORTERS.items()}
    return {name: exporter for name, exporter in built.items() if exporter is not None}


def fingerprint(config: ExportsConfig, target: str) -> str:
    """Changes when the target's settings (its token included) change: a parked
    target runs again then. Only a hash is stored, never the token."""
    section = getattr(config, target)
    secret = section.key() if hasattr(section, "key") else None
    text = f"{section!r}\0{secret or ''}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]
