"""A highlight published on the broker appears in an open page by itself, and
each later version moves its progress along (saved → transcribing → done)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from earmark.sync.broker import LocalBroker

from ..support import wait_for
from .conftest import (
    DashboardProcess,
    Witness,
    _port_of,
    highlight,
    publish_highlight,
    until_in_page,
)

STREAM_OPEN = "document.querySelector('#live')?._htmx?.sse !== undefined"


def test_a_new_highlight_arrives_live_and_its_progress_follows(
    dashboard: DashboardProcess, broker: LocalBroker, page_and_witness: tuple[Any, Witness]
) -> None:
    page, witness = page_and_witness
    page.goto(dashboard.url)
    until_in_page(page, STREAM_OPEN, "the stream")
    first = highlight(id="live1")
    publish_highlight(broker.port, first)
    card = page.locator("#h-live1")
    card.wait_for()
    assert card.get_attribute("data-status") == "pending"
    for version, status in ((2, "clipped"), (3, "transcribed")):
        publish_highlight(broker.port, highlight(id="live1", version=version, status=status))
        page.locator(f"#h-live1[data-status={status}]").wait_for()
    assert page.locator("#h-live1 .progress li.reached").count() == 3
    done = highlight(
        id="live1", version=4, status="done", title="Turn the pile", takeaways=["Every week"]
    )
    publish_highlight(broker.port, done)
    page.locator("#h-live1[data-status=done]").wait_for()
    assert page.locator("#h-live1 .title").inner_text() == "Turn the pile"
    # an older version arriving late changes nothing
    publish_highlight(broker.port, highlight(id="live1", version=2, status="clipped"))
    publish_highlight(broker.port, highlight(id="live2"))
    page.locator("#h-live2").wait_for()
    assert page.locator("#h-live1").get_attribute("data-status") == "done"
    assert not witness.errors, witness.errors


def test_a_highlight_that_arrives_between_the_page_and_its_stream_is_not_lost(
    dashboard: DashboardProcess, broker: LocalBroker, page_and_witness: tuple[Any, Witness]
) -> None:
    page, witness = page_and_witness
    publish_highlight(broker.port, highlight(id="before"))
    wait_for(lambda: dashboard.get("/highlights/before/text")[0] == 200, 30, 0.05, "ingest")

    def stream_late(route: Any) -> None:
        # the page is rendered; before its stream connects, a highlight arrives
        publish_highlight(broker.port, highlight(id="between", title="Arrived in between"))
        wait_for(lambda: dashboard.get("/highlights/between/text")[0] == 200, 30, 0.05, "it")
        route.continue_()

    page.route("**/events?*", stream_late)
    page.goto(dashboard.url)
    page.locator("#h-between").wait_for()
    assert page.locator("#h-between .title").inner_text() == "Arrived in between"
    # the card the page was rendered with is there once, not twice
    assert page.locator("#h-before").count() == 1
    page.unroute("**/events?*")
    assert not witness.errors, witness.errors


def test_a_page_open_across_a_restart_of_the_dashboard_says_it_missed_changes(
    dashboard_config: Callable[..., Path],
    broker: LocalBroker,
    page_and_witness: tuple[Any, Witness],
    tmp_path: Path,
) -> None:
    """What arrived while the dashboard was down reaches the dashboard (its MQTT
    session keeps it), but not a page rendered by the run before: the page says
    so, and a reload shows it."""
    page, witness = page_and_witness
    config = dashboard_config()
    first = DashboardProcess(config, tmp_path / "first.log", _port_of(config))
    page.goto(first.url)
    until_in_page(page, STREAM_OPEN, "the stream")
    assert page.locator("#missed").inner_text() == ""
    first.stop()
    # the open live stream ended as a finished response, not cut off
    assert "ASGI callable returned without completing response" not in first.log
    publish_highlight(broker.port, highlight(id="meanwhile", title="Sent while it was down"))
    again = DashboardProcess(config, tmp_path / "again.log", _port_of(config))
    try:
        wait_for(lambda: again.get("/highlights/meanwhile/text")[0] == 200, 60, 0.1, "ingest")
        missed = page.locator("#missed")
        missed.get_by_text("This page missed changes").wait_for()
        assert page.locator("#h-meanwhile").count() == 0
        missed.get_by_role("link", name="Reload").click()
        page.locator("#h-meanwhile").wait_for()
        assert page.locator("#missed").inner_text() == ""
        assert not witness.dialogs and not witness.errors, witness
    finally:
        again.stop()


def test_a_search_typed_in_the_page_shows_only_the_matches_marked(
    dashboard: DashboardProcess, broker: LocalBroker, page_and_witness: tuple[Any, Witness]
) -> None:
    page, witness = page_and_witness
    publish_highlight(
        broker.port,
        highlight(id="worms", title="Worms turn the heap", takeaways=["Feed them peelings"]),
    )
    publish_highlight(broker.port, highlight(id="bread", title="Steam makes the crust"))
    page.goto(dashboard.url)
    page.locator("#h-bread").wait_for()
    page.locator("#h-worms").wait_for()
    page.get_by_label("Search").fill("peeling")
    page.get_by_role("button", name="Find").click()
    page.wait_for_url("**q=peeling**")
    assert page.locator("#highlights article.highlight").count() == 1
    assert page.locator("#h-worms .takeaways mark").inner_text() == "peelings"
    assert page.locator("#h-bread").count() == 0
    assert not witness.errors, witness.errors
