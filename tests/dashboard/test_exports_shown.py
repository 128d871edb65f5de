"""The speaker card says where the speaker's highlights go, and says it loudly
when a target is parked (its token refused): the speaker publishes it retained
on ``exports``, the dashboard shows it live."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from earmark.sync.broker import LocalBroker

from ..daemon_process import Daemon
from ..export.readwise_server import ReadwiseServer
from ..export.test_exports_daemon import TOKEN, _seed
from .conftest import DashboardProcess, Witness
from .shared import open_live


@pytest.fixture
def readwise() -> Iterator[ReadwiseServer]:
    with ReadwiseServer(TOKEN) as server:
        yield server


def test_a_parked_export_shows_on_the_speaker_card(
    write_config: Callable[..., Path],
    broker: LocalBroker,
    readwise: ReadwiseServer,
    dashboard: DashboardProcess,
    page_and_witness: tuple[Any, Witness],
    tmp_path: Path,
) -> None:
    page, _ = page_and_witness
    config = write_config(
        {
            "mqtt": {"host": "127.0.0.1", "port": broker.port},
            "exports": {"readwise": {"token": "not-the-token", "base_url": readwise.url}},
        }
    )
    _seed(config, 1)
    open_live(page, dashboard.url)
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        parked = page.locator("#s-testbox .export.parked")
        parked.wait_for()
        assert "Export to readwise is parked: Readwise refused the token" in parked.inner_text()
    finally:
        daemon.terminate()
    fixed = write_config(
        {
            "mqtt": {"host": "127.0.0.1", "port": broker.port},
            "exports": {"readwise": {"token": TOKEN, "base_url": readwise.url}},
        }
    )
    daemon = Daemon(fixed, tmp_path / "fixed.log")
    try:
        page.locator("#s-testbox .export:not(.parked)").wait_for()
        page.locator("#s-testbox .export", has_text="Exported to readwise: 1").wait_for()
    finally:
        daemon.terminate()
