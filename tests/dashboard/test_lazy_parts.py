"""A card's part fetched when its <details> opens (the transcript, the Edit form)
whose fetch fails: the part says so in one line, closing and opening it again
fetches again, and once it has loaded it is not fetched again. The dashboard is
the real process; only the failing answers are made up, by the browser's routing."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from earmark.sync.broker import LocalBroker

from .conftest import PAGE_WAIT_MS, DashboardProcess, Witness, publish_highlight
from .shared import stored
from .test_card_parts import QUOTE, TRANSCRIPT, done, open_part

# counts the fetches of a part that htmx finished (sent, or let go unsent because
# the part is closed or loaded), so a test can wait for one that must not be sent
COUNT_FINISHED = """part => part.addEventListener("htmx:finally:request", (event) => {
    if (event.target === part) part.dataset.finished = Number(part.dataset.finished ?? 0) + 1;
})"""


def reopen(details: Any) -> None:
    """Close ``details`` and open it again, as a listener would with the mouse."""
    details.locator("summary").click()
    expect(details).not_to_have_attribute("open", "")
    details.locator("summary").click()
    expect(details).to_have_attribute("open", "")


def only_failed_fetches(witness: Witness) -> None:
    """No dialog, no page error, and in the console only the browser's and htmx's
    own word on the fetches a test made fail (no script refused or run)."""
    assert witness.dialogs == [], witness.dialogs
    assert witness.errors == [], witness.errors
    unexpected = [
        line
        for line in witness.console
        if "Failed to load resource" not in line and "htmx:error" not in line
    ]
    assert unexpected == [], witness.console


def test_a_transcript_that_failed_to_load_says_so_and_loads_when_opened_again(
    shared: tuple[LocalBroker, DashboardProcess], page_and_witness: tuple[Any, Witness]
) -> None:
    broker, dashboard = shared
    page, witness = page_and_witness
    publish_highlight(broker.port, done("lazy-503"))
    stored(dashboard, "lazy-503", 4)
    asked: list[str] = []

    def first_fails(route: Any) -> None:
        asked.append(route.request.url)
        if len(asked) == 1:
            route.fulfill(status=503, body="<p>restarting</p>", content_type="text/html")
        else:
            route.continue_()

    page.route("**/highlights/*/transcript", first_fails)
    page.goto(dashboard.url)
    transcript = open_part(page.locator("#h-lazy-503"), "transcript")
    failed = transcript.get_by_role("alert")
    expect(failed).to_have_text(
        "Could not load the transcript (the dashboard answered 503);"
        " close and open it to try again.",
        timeout=PAGE_WAIT_MS,
    )
    expect(transcript).not_to_contain_text("restarting")  # the 503's body is not shown

    reopen(transcript)
    expect(transcript.locator("p")).to_have_text(TRANSCRIPT, timeout=PAGE_WAIT_MS)
    expect(transcript.locator("mark.quote")).to_have_text(QUOTE)
    expect(failed).to_have_count(0)
    assert len(asked) == 2, asked

    # loaded: closed and opened again, it is not fetched again
    transcript.evaluate(COUNT_FINISHED)
    summary = transcript.locator("summary")
    summary.click()
    expect(transcript).to_have_attribute("data-finished", "1", timeout=PAGE_WAIT_MS)
    summary.click()
    expect(transcript).to_have_attribute("data-finished", "2", timeout=PAGE_WAIT_MS)
    expect(transcript).to_have_attribute("open", "")
    assert len(asked) == 2, asked
    expect(transcript.locator("mark.quote")).to_have_text(QUOTE)
    only_failed_fetches(witness)


def test_an_edit_form_fetched_while_the_dashboard_is_away_says_so_and_loads_when_opened_again(
    shared: tuple[LocalBroker, DashboardProcess], page_and_witness: tuple[Any, Witness]
) -> None:
    broker, dashboard = shared
    page, witness = page_and_witness
    publish_highlight(broker.port, done("lazy-away", title="Worms first"))
    stored(dashboard, "lazy-away", 4)
    page.goto(dashboard.url)
    page.route("**/highlights/*/edit", lambda route: route.abort("connectionrefused"))
    edit = open_part(page.locator("#h-lazy-away"), "edit")
    expect(edit.get_by_role("alert")).to_have_text(
        "Could not load the Edit form (the dashboard did not answer);"
        " close and open it to try again.",
        timeout=PAGE_WAIT_MS,
    )

    page.unroute("**/highlights/*/edit")
    reopen(edit)
    expect(edit.locator("input[name=title]")).to_have_value("Worms first", timeout=PAGE_WAIT_MS)
    expect(edit.get_by_role("alert")).to_have_count(0)
    only_failed_fetches(witness)


def test_a_part_of_a_highlight_deleted_meanwhile_says_so_and_loads_once_it_is_back(
    shared: tuple[LocalBroker, DashboardProcess], page_and_witness: tuple[Any, Witness]
) -> None:
    """The 404 is the dashboard's own: the card was shown before the highlight was
    deleted (the page's live stream is down, so the card stays as it was)."""
    broker, dashboard = shared
    page, witness = page_and_witness
    publish_highlight(broker.port, done("lazy-gone"))
    stored(dashboard, "lazy-gone", 4)
    page.route("**/events*", lambda route: route.abort())
    page.goto(dashboard.url)
    publish_highlight(broker.port, done("lazy-gone", version=5, deleted=True))
    stored(dashboard, "lazy-gone", 5)

    transcript = open_part(page.locator("#h-lazy-gone"), "transcript")
    expect(transcript.get_by_role("alert")).to_have_text(
        "This highlight was deleted.", timeout=PAGE_WAIT_MS
    )

    publish_highlight(broker.port, done("lazy-gone", version=6))  # undone on the speaker
    stored(dashboard, "lazy-gone", 6)
    reopen(transcript)
    expect(transcript.locator("mark.quote")).to_have_text(QUOTE, timeout=PAGE_WAIT_MS)
    expect(transcript.get_by_role("alert")).to_have_count(0)
    assert witness.errors == [] and witness.dialogs == []
