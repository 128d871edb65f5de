"""Stock a store the way the speaker does: subscribe to a feed and download
what the library keeps, with the real subscriptions and downloads."""

from __future__ import annotations

from pathlib import Path

from earmark.config.model import LibraryConfig
from earmark.library.downloads import Downloads
from earmark.library.subscriptions import Refreshed, Subscriptions
from earmark.store.catalog import Catalog
from earmark.store.database import Database
from earmark.store.podcasts import Podcasts


def subscribe(
    db: Database,
    catalog: Catalog,
    url: str,
    downloads: Path | None = None,
    settings: LibraryConfig | None = None,
) -> Refreshed:
    """Subscribe to ``url``; with ``downloads``, fetch the episodes the library keeps."""
    settings = settings or LibraryConfig()
    result = Subscriptions(db, catalog, Podcasts(db), settings).subscribe(url)
    if downloads is not None:
        Downloads(db, catalog, settings, downloads).run_once()
    return result
