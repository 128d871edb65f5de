"""The parts of a highlight's card loaded only when the listener opens them: the
transcript (the quote marked in it) and the Edit form, fetched by htmx when
their <details> opens, and the text "Copy as text" puts on the clipboard. The
page itself carries none of them; what arrives later behaves as if it had been
there: escaped, opened from the keyboard, in a card that came live or was
re-rendered, and an Edit form still sends only what the listener changed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from earmark.sync.broker import LocalBroker

from ..support import MqttListener, wait_for
from .conftest import DashboardProcess, Witness, highlight, publish_highlight, publish_raw
from .shared import assert_nothing_ran, open_live, stored

QUOTE = "Worms need air more than they need food."
TRANSCRIPT = f"So the heap went sour in a week. {QUOTE} Turn it every Sunday."


def done(highlight_id: str, version: int = 4, **fields: Any) -> Any:
    base: dict[str, Any] = {
        "id": highlight_id,
        "version": version,
        "status": "done",
        "device_id": "partsbox",
        "title": "Air for the worms",
        "quote": QUOTE,
        "transcript": TRANSCRIPT,
        "takeaways": ["Turn the heap weekly"],
    }
    return highlight(**{**base, **fields})


def open_part(card: Any, name: str) -> Any:
    """Open the card's <details> ``name`` from the keyboard, as a listener would
    without a mouse, and return it."""
    details = card.locator(f"details.{name}")
    details.locator("summary").focus()
    details.page.keyboard.press("Enter")
    expect(details).to_have_attribute("open", "")
    return details


def test_the_page_carries_no_transcript_or_edit_form_until_opened(
    shared: tuple[LocalBroker, DashboardProcess], page_and_witness: tuple[Any, Witness]
) -> None:
    broker, dashboard = shared
    page, witness = page_and_witness
    publish_highlight(broker.port, done("parts-read"))
    stored(dashboard, "parts-read", 4)
    status, _, body = dashboard.get("/")
    html = body.decode()
    assert status == 200 and QUOTE in html  # the quote is what a reader scans
    assert "Turn it every Sunday" not in html and 'name="was_title"' not in html

    page.goto(dashboard.url)
    card = page.locator("#h-parts-read")
    transcript = open_part(card, "transcript")
    expect(transcript.locator("p")).to_have_text(TRANSCRIPT)
    expect(transcript.locator("mark.quote")).to_have_text(QUOTE)

    edit = open_part(card, "edit")
    title = edit.locator("input[name=title]")
    expect(title).to_have_value("Air for the worms")
    page.keyboard.press("Tab")  # from the summary into the form that arrived
    expect(title).to_be_focused()
    # closed and opened again: the same parts, not fetched twice
    transcript.locator("summary").click()
    transcript.locator("summary").click()
    expect(transcript.locator("mark.quote")).to_have_count(1)
    assert_nothing_ran(witness)


def test_an_opened_transcript_stays_open_over_a_new_version_and_new_words_load_anew(
    shared: tuple[LocalBroker, DashboardProcess], page_and_witness: tuple[Any, Witness]
) -> None:
    """A card that arrived live, re-rendered by every later version: its parts load
    like any other card's."""
    broker, dashboard = shared
    page, witness = page_and_witness
    open_live(page, dashboard.url)
    publish_highlight(broker.port, done("parts-live", version=1, status="pending", title=None))
    card = page.locator("#h-parts-live")
    expect(card).to_have_attribute("data-status", "pending")
    publish_highlight(broker.port, done("parts-live", version=4))
    expect(card).to_have_attribute("data-version", "4")
    transcript = open_part(card, "transcript")
    expect(transcript.locator("mark.quote")).to_have_text(QUOTE)

    # starred: a new version with the same words keeps the transcript as it is
    publish_highlight(broker.port, done("parts-live", version=5, starred=True))
    expect(card).to_have_attribute("data-version", "5")
    expect(card.locator("details.transcript")).to_have_attribute("open", "")
    expect(card.locator("details.transcript mark.quote")).to_have_text(QUOTE)

    # re-cut: new words, a closed transcript that fetches them when opened
    publish_highlight(
        broker.port,
        done("parts-live", version=6, transcript="Only the new words.", quote="new words"),
    )
    expect(card).to_have_attribute("data-version", "6")
    transcript = card.locator("details.transcript")
    expect(transcript).not_to_have_attribute("open", "")
    open_part(card, "transcript")
    expect(transcript.locator("mark.quote")).to_have_text("new words")
    expect(transcript).not_to_contain_text("Turn it every Sunday")

    # deleted and brought back: the Edit form of the card that comes back loads
    publish_highlight(broker.port, done("parts-live", version=7, deleted=True))
    expect(card).to_have_class("highlight done deleted")
    publish_highlight(broker.port, done("parts-live", version=8, title="Back again"))
    expect(card.locator(".title")).to_have_text("Back again")
    edit = open_part(card, "edit")
    expect(edit.locator("input[name=title]")).to_have_value("Back again")
    assert_nothing_ran(witness)


@pytest.fixture
def commands(shared: tuple[LocalBroker, DashboardProcess]) -> Iterator[MqttListener]:
    listener = MqttListener(shared[0].port, "earmark/partsbox/cmd/#")
    yield listener
    listener.close()


def answer_edits(port: int, listener: MqttListener) -> threading.Event:
    """Answer each edit command as the speaker would, until the event is set."""
    stop = threading.Event()

    def run() -> None:
        answered: set[str] = set()
        while not stop.wait(0.05):
            for edit in listener.payloads("/cmd/edit"):
                if edit["id"] not in answered:
                    answered.add(edit["id"])
                    result = {"schema": 1, "id": edit["id"], "ok": True, "message": "saved"}
                    publish_raw(port, "earmark/partsbox/cmd/result", json.dumps(result).encode())

    threading.Thread(target=run, daemon=True).start()
    return stop


def test_an_edit_form_fetched_late_sends_only_the_fields_changed_in_it(
    shared: tuple[LocalBroker, DashboardProcess],
    page_and_witness: tuple[Any, Witness],
    commands: MqttListener,
) -> None:
    broker, dashboard = shared
    page, witness = page_and_witness
    publish_highlight(broker.port, done("parts-edit", version=4, title="First title"))
    stored(dashboard, "parts-edit", 4)
    open_live(page, dashboard.url)
    card = page.locator("#h-parts-edit")
    # a newer version arrives after the page loaded: the form fetched on opening shows it
    publish_highlight(broker.port, done("parts-edit", version=5, title="Second title", note="n"))
    expect(card).to_have_attribute("data-version", "5")
    edit = open_part(card, "edit")
    expect(edit.locator("input[name=title]")).to_have_value("Second title")
    expect(edit.locator("textarea[name=note]")).to_have_value("n")
    # and another (a second tab's retitling) while the form is open
    publish_highlight(broker.port, done("parts-edit", version=6, title="Third title", note="n"))
    expect(card.locator(".title")).to_have_text("Third title")
    expect(edit.locator("input[name=title]")).to_have_value("Second title")

    stop = answer_edits(broker.port, commands)
    try:
        edit.locator("input[name=tags]").fill("compost, air")
        edit.locator("button[type=submit]").click()
        expect(page.locator("#r-parts-edit .ok")).to_have_text("✓ saved")
    finally:
        stop.set()
    sent = commands.payloads("/cmd/edit")
    assert len(sent) == 1, sent
    assert {k: v for k, v in sent[0].items() if k != "id"} == {
        "highlight": "parts-edit",
        "tags": ["compost", "air"],
    }
    assert_nothing_ran(witness)


def test_a_part_of_a_deleted_or_unknown_highlight_says_so_in_the_card(
    shared: tuple[LocalBroker, DashboardProcess], page_and_witness: tuple[Any, Witness]
) -> None:
    broker, dashboard = shared
    page, witness = page_and_witness
    publish_highlight(broker.port, done("parts-gone"))
    publish_highlight(broker.port, done("parts-stays", title="Still here"))
    stored(dashboard, "parts-gone", 4)
    stored(dashboard, "parts-stays", 4)
    # a page whose live stream is down: its card still shows what was deleted since
    page.route("**/events*", lambda route: route.abort())
    page.goto(dashboard.url)
    publish_highlight(broker.port, done("parts-gone", version=5, deleted=True))
    stored(dashboard, "parts-gone", 5)

    card = page.locator("#h-parts-gone")
    for part in ("transcript", "edit"):
        details = open_part(card, part)
        expect(details.get_by_role("alert")).to_have_text("This highlight was deleted.")
    # the rest of the page works on
    expect(card.locator(".title")).to_have_text("Air for the worms")
    other = open_part(page.locator("#h-parts-stays"), "transcript")
    expect(other.locator("mark.quote")).to_have_text(QUOTE)
    assert witness.errors == [] and witness.dialogs == []

    with httpx.Client(base_url=dashboard.url, timeout=10) as client:
        for path in ("transcript", "edit", "text"):
            unknown = client.get(f"/highlights/never-stored/{path}")
            assert unknown.status_code == 404
        for path in ("transcript", "edit"):
            unknown = client.get(f"/highlights/never-stored/{path}")
            assert 'role="alert"' in unknown.text and "not here" in unknown.text
        assert client.get("/highlights/a<b>/edit").status_code == 404


def test_copy_as_text_puts_the_fetched_text_on_the_clipboard(
    shared: tuple[LocalBroker, DashboardProcess], page_and_witness: tuple[Any, Witness]
) -> None:
    broker, dashboard = shared
    page, witness = page_and_witness
    publish_highlight(broker.port, done("parts-copy", note="Try it on the balcony"))
    stored(dashboard, "parts-copy", 4)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(dashboard.url)
    button = page.locator("#h-parts-copy button.copy")
    button.click()
    expect(button).to_have_text("Copied")
    copied = wait_for(
        lambda: page.evaluate("navigator.clipboard.readText()"), 10, 0.05, "the clipboard"
    )
    assert copied == "\n".join(
        [
            "Air for the worms",
            "The Slow Garden — Compost at 0:10",
            f"“{QUOTE}”",
            "• Turn the heap weekly",
            "Note: Try it on the balcony",
        ]
    )
    assert_nothing_ran(witness)
