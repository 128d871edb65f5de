"""Start the dashboard: its store, its link to the broker, its web server.

``earmark dashboard`` builds :class:`Settings` from the config file and calls
:func:`serve`; tests and the benchmark call it the same way."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette

from earmark.dashboard.hub import Hub
from earmark.dashboard.ingest import Ingest
from earmark.dashboard.settings import Settings
from earmark.dashboard.store import Mirror
from earmark.dashboard.web import Dashboard
from earmark.errors import EarmarkError

log = logging.getLogger(__name__)


class DashboardError(EarmarkError):
    """The dashboard cannot start as configured."""


def check(settings: Settings) -> None:
    if not settings.local_only and settings.password_hash is None:
        raise DashboardError(
            f"the dashboard would listen on {settings.host} with no password: set "
            "dashboard.password_hash (earmark dashboard --hash-password prints one), "
            "or listen on 127.0.0.1"
        )


def build(settings: Settings) -> Starlette:
    """The web application; its lifespan connects to the broker and, at the end,
    closes the link and the store."""
    check(settings)
    mirror = Mirror(settings.database_path)
    hub = Hub()
    ingest = Ingest(settings, mirror, hub)
    dashboard = Dashboard(settings, mirror, hub, ingest)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        hub.attach(asyncio.get_running_loop())
        ingest.start()
        log.info("dashboard ready at %s (%d highlights)", settings.url, mirror.count())
        try:
            yield
        finally:
            ingest.stop()
            mirror.close()

    return dashboard.app(lifespan)


def serve(settings: Settings) -> None:
    app = build(settings)
    print(f"earmark dashboard: {settings.url}", flush=True)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=3,
    )
