"""One dashboard (and its mosquitto) for a whole test module, for the tests
that each use their own ids and so need no dashboard of their own; and the
small checks the bad-input and security tests share."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from earmark.sync.broker import free_port

from ..support import wait_for
from .conftest import DashboardProcess, Witness

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def start_dashboard(
    root: Path, broker_port: int, dashboard: dict | None = None
) -> DashboardProcess:
    """``earmark dashboard`` on ``broker_port`` with its files under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = {
        "device_id": "testbox",
        "data_dir": str(root / "data"),
        "control_socket": str(root / "earmark.sock"),
        "log_level": "debug",
        "mqtt": {"host": "127.0.0.1", "port": broker_port},
        "dashboard": {"port": port, "data_dir": str(root / "dashboard"), **(dashboard or {})},
    }
    path = root / "dashboard.yaml"
    path.write_text(yaml.safe_dump(config))
    return DashboardProcess(path, root / "dashboard.log", port)


def stored(dashboard: DashboardProcess, highlight_id: str, version: int = 1) -> None:
    """Wait until the dashboard holds ``highlight_id`` at ``version`` or later."""

    def held() -> bool:
        status, _, body = dashboard.get(f"/highlights/{highlight_id}")
        found = re.search(rb'data-version="(\d+)"', body)
        return status == 200 and found is not None and int(found.group(1)) >= version

    wait_for(held, 30, 0.05, f"the dashboard to hold {highlight_id} v{version}")


def open_live(page: Any, url: str) -> None:
    """Open ``url`` and wait until its live stream is connected."""
    page.goto(url)
    connected = "document.querySelector('#live')?._htmx?.sse !== undefined"
    wait_for(lambda: page.evaluate(connected), 30, 0.05, "the page's live stream")


def assert_nothing_ran(witness: Witness) -> None:
    """No dialog, no page error, no console line (an injected script's, or the
    browser refusing one under the Content-Security-Policy)."""
    assert witness.dialogs == [], witness.dialogs
    assert witness.errors == [], witness.errors
    assert witness.console == [], witness.console
