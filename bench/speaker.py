"""The real daemon for the benchmarks: a feed on a local server, a broker, a config."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from earmark.library.fileserver import FileServer
from earmark.sync.broker import LocalBroker, free_port
from tests.support import write_feed  # the same feed the tests serve


@contextmanager
def speaker_config(work: Path, episode: Path, **overrides: Any) -> Iterator[tuple[Path, int]]:
    """Serve ``episode`` in a feed, start a broker, and write a config for a daemon
    (device id ``bench``, data in ``work/data``); yields the config and broker port."""
    www = work / "www"
    www.mkdir(exist_ok=True)
    if episode.parent != www:
        shutil.copy(episode, www / episode.name)
    port = free_port()
    with LocalBroker(port), FileServer(www) as server:
        feed = write_feed(www, server.base_url, "Bread", [("b1", "Bread", episode.name)])
        settings: dict[str, Any] = {
            "device_id": "bench",
            "data_dir": str(work / "data"),
            "log_level": "warning",
            "mqtt": {"host": "127.0.0.1", "port": port},
            "player": {"audio_output": "null", "earcons": False},
            "library": {"demo": False, "feeds": [feed]},
            **overrides,
        }
        config = work / "earmark.yaml"
        config.write_text(yaml.safe_dump(settings))
        yield config, port
