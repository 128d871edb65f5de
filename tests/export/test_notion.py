"""The Notion exporter against a local server that speaks the documented
contract (tests/export/notion_server.py): pages, blocks, limits, rate, errors."""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from earmark.config.model import NotionConfig
from earmark.export.base import (
    AuthFailed,
    Episode,
    ExportError,
    ExportItem,
    RateLimited,
    Rejected,
    TargetDown,
)
from earmark.export.http import DEFAULT_RETRY_AFTER
from earmark.export.notion import (
    NOTION_VERSION,
    NotionExporter,
    RateLimiter,
    split_text,
    utf16_length,
)
from earmark.store.highlights import Highlight

from .notion_server import VERSION, Fault, NotionServer, fail, not_json, slow

TRANSCRIPT = (
    "Turn the pile every week so that the microbes in the middle can breathe. "
    "If the pile smells bad, add more brown material and mix it well."
)


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[NotionServer]:
    """A Notion of its own for each test (parametrized indirectly: its settings)."""
    with NotionServer(**getattr(request, "param", {})) as running:
        yield running


def exporter_for(server: NotionServer, timeout: float = 5.0, **config: Any) -> NotionExporter:
    settings = {"token": server.token, "database_id": server.database_id, "base_url": server.url}
    settings.update(config)
    return NotionExporter(NotionConfig(**settings), timeout)


def snip(highlight_id: str = "3f2a9c0d1e2b4c5d8e9f0a1b2c3d4e5f", **changes: Any) -> ExportItem:
    h = Highlight(
        id=highlight_id,
        status="done",
        pressed_at="2025-05-01T10:00:00.000Z",
        press_position=125.0,
        start=110.5,
        end=125.0,
        podcast_title="The slow garden",
        episode_title="Compost",
        title="Compost needs air",
        takeaways=("Turn the pile every week", "Add brown material when it smells"),
        quote="Turn the pile every week so that the microbes in the middle can breathe.",
        transcript=TRANSCRIPT,
        tags=("garden", "soil, compost"),
    )
    h = dataclasses.replace(h, **changes)
    return ExportItem(
        highlight=h,
        episode=Episode(
            podcast="The slow garden",
            title="Compost",
            url="https://example.org/episodes/compost.mp3",
        ),
        link=f"http://dashboard.local/highlights/{highlight_id}",
    )


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true")
        time.sleep(0.02)


def kinds(tree: list[tuple[dict[str, Any], list[Any]]]) -> list[str]:
    return [block["type"] for block, _ in tree]


def block_text(block: dict[str, Any]) -> str:
    return "".join(t["plain_text"] for t in block[block["type"]]["rich_text"])


def transcript_of(server: NotionServer, page_id: str) -> tuple[str, list[str]]:
    toggles = [(b, kids) for b, kids in server.tree(page_id) if b["type"] == "toggle"]
    assert len(toggles) == 1
    pieces = [block_text(b) for b, _ in toggles[0][1]]
    return "".join(pieces), pieces


# -- creating, editing, finding ---------------------------------------------------------


def test_an_export_makes_one_page_with_the_snips_properties_and_blocks(
    server: NotionServer,
) -> None:
    item = snip()
    page_id = exporter_for(server).export(item, None)

    [page] = server.live_pages()
    assert page["id"] == page_id
    assert page["parent"] == {
        "type": "data_source_id",
        "data_source_id": server.data_source_id,
        "database_id": server.database_id,
    }
    p = page["properties"]
    assert server.text(page, "Name") == "Compost needs air"
    assert p["Podcast"]["select"] == {"name": "The slow garden"}
    assert p["Episode"]["url"] == "https://example.org/episodes/compost.mp3"
    assert p["Start"]["number"] == 110.5
    assert p["Snipped at"]["date"] == {"start": "2025-05-01T10:00:00.000Z"}
    assert [o["name"] for o in p["Tags"]["multi_select"]] == ["garden", "soil compost"]
    assert p["Dashboard"]["url"] == f"http://dashboard.local/highlights/{item.highlight.id}"
    assert server.text(page, "earmark id") == item.highlight.id

    tree = server.tree(page_id)
    assert kinds(tree) == ["bulleted_list_item", "bulleted_list_item", "quote", "toggle"]
    assert [block_text(b) for b, _ in tree[:3]] == [*item.highlight.takeaways, item.highlight.quote]
    assert block_text(tree[3][0]) == "Transcript"
    assert transcript_of(server, page_id)[0] == TRANSCRIPT
    # every request spoke the pinned version; the database was looked up once
    assert {r.headers["notion-version"] for r in server.requests} == {NOTION_VERSION}
    assert NOTION_VERSION == VERSION
    assert [r.path for r in server.requests].count(f"/v1/databases/{server.database_id}") == 1


def test_a_long_transcript_goes_in_pieces_of_2000_and_requests_of_100_blocks(
    server: NotionServer,
) -> None:
    words = " ".join(f"word{i} 🌱" if i % 7 == 0 else f"word{i}" for i in range(40_000))
    transcript = words[:250_000].strip()
    exporter = exporter_for(server)

    page_id = exporter.export(snip(transcript=transcript), None)

    text, pieces = transcript_of(server, page_id)
    assert text == transcript
    assert len(pieces) > 100  # more than one request can hold
    assert all(utf16_length(piece) <= 2000 for piece in pieces)
    assert max(r.blocks for r in server.requests) <= 100
    assert sum(1 for r in server.requests if r.path.endswith("/children")) >= 2
    assert server.rate_limited() == []
    assert len(server.live_pages()) == 1


def test_a_30000_character_transcript_is_split_into_rich_texts_of_at_most_2000(
    server: NotionServer,
) -> None:
    transcript = ("The pile breathes when you turn it. " * 900)[:30_000].strip()
    page_id = exporter_for(server).export(snip(transcript=transcript), None)

    text, pieces = transcript_of(server, page_id)
    assert text == transcript
    assert len(pieces) in (15, 16)
    assert all(len(piece) <= 2000 for piece in pieces)
    assert all(piece.endswith(" ") for piece in pieces[:-1])  # cut between words


def test_many_exports_in_a_row_never_meet_the_rate_limit(server: NotionServer) -> None:
    exporter = exporter_for(server)
    for n in range(6):
        exporter.export(snip(f"{n:032x}", takeaways=tuple(f"point {i}" for i in range(3))), None)
    assert len(server.live_pages()) == 6
    assert len(server.requests) >= 6 * 2
    assert server.rate_limited() == []


def test_the_server_does_rate_limit_a_client_without_the_limiter(server: NotionServer) -> None:
    exporter = exporter_for(server)
    exporter.limiter = RateLimiter(rate=10_000, burst=10_000)
    with pytest.raises(RateLimited) as caught:
        for _ in range(50):
            exporter.check()
    assert caught.value.seconds >= 1
    assert server.rate_limited()[0].status == 429


def test_an_edit_updates_the_same_page(server: NotionServer) -> None:
    exporter = exporter_for(server)
    first = snip()
    page_id = exporter.export(first, None)
    old_blocks = {b["id"] for b, _ in server.tree(page_id)}

    edited = snip(
        title="Compost needs air and water",
        takeaways=("Water the pile lightly",),
        quote=None,
        note="try this in spring",
        tags=("spring",),
        version=2,
    )
    assert exporter.export(edited, page_id) == page_id

    [page] = server.live_pages()
    assert server.text(page, "Name") == "Compost needs air and water"
    assert [o["name"] for o in page["properties"]["Tags"]["multi_select"]] == ["spring"]
    tree = server.tree(page_id)
    assert kinds(tree) == ["bulleted_list_item", "paragraph", "toggle"]
    assert block_text(tree[0][0]) == "Water the pile lightly"
    assert block_text(tree[1][0]) == "try this in spring"
    assert not old_blocks & {b["id"] for b, _ in tree}
    assert all(server.blocks[i]["in_trash"] for i in old_blocks)


def test_an_export_that_lost_its_id_finds_the_page_by_its_earmark_id(
    server: NotionServer,
) -> None:
    first = exporter_for(server)
    page_id = first.export(snip(), None)
    # earmark crashed before recording page_id: the job runs again, knowing no id
    # (a new exporter, as after a restart; the same bucket, as after the restart's pause)
    second = exporter_for(server)
    second.limiter = first.limiter
    again = second.export(snip(title="A second run", version=2), None)
    assert again == page_id
    [page] = server.live_pages()
    assert server.text(page, "Name") == "A second run"
    assert kinds(server.tree(page_id)).count("toggle") == 1


def test_a_create_that_timed_out_but_landed_is_found_on_the_next_run(
    server: NotionServer,
) -> None:
    exporter = exporter_for(server, timeout=0.5)
    exporter.check()  # database and schema known: the next requests are query, create
    server.next(Fault(), slow(1.5))
    with pytest.raises(TargetDown, match="did not answer"):
        exporter.export(snip(), None)
    wait_until(lambda: len(server.live_pages()) == 1)

    page_id = exporter.export(snip(), None)
    assert [p["id"] for p in server.live_pages()] == [page_id]


def test_a_page_trashed_in_notion_is_made_again_on_the_next_edit(server: NotionServer) -> None:
    exporter = exporter_for(server)
    page_id = exporter.export(snip(), None)
    server.pages[page_id]["in_trash"] = True  # the listener deleted it in Notion

    new_id = exporter.export(snip(version=2), page_id)
    assert new_id != page_id
    assert [p["id"] for p in server.live_pages()] == [new_id]


def test_remove_puts_the_page_in_the_trash(server: NotionServer) -> None:
    exporter = exporter_for(server)
    item = snip()
    page_id = exporter.export(item, None)

    exporter.remove(item, page_id)
    assert server.pages[page_id]["in_trash"] is True
    assert server.live_pages() == []
    patch = [r for r in server.requests if r.method == "PATCH" and r.body == {"in_trash": True}]
    assert len(patch) == 1
    exporter.remove(item, page_id)  # again: nothing left to do, no error
    exporter.remove(item, "0" * 32)  # a page Notion does not know: gone already


# -- the database's own properties ------------------------------------------------------


def test_a_database_without_some_properties_gets_the_ones_it_has() -> None:
    properties = {
        "Title": "title",
        "podcast": "rich_text",
        "Tags": "rich_text",
        "earmark id": "rich_text",
    }
    with NotionServer(properties=properties) as server:
        exporter = exporter_for(server)
        page_id = exporter.export(snip(), None)
        [page] = server.live_pages()
        assert page["id"] == page_id
        assert server.text(page, "Title") == "Compost needs air"
        assert server.text(page, "podcast") == "The slow garden"
        assert server.text(page, "Tags") == ""  # of another type: left alone
        line = exporter.check()
    assert "earmark test" in line and "Podcast snips" in line
    for missing in ("Episode", "Start", "Snipped at", "Tags", "Dashboard"):
        assert missing in line


def test_a_database_without_the_earmark_id_is_refused_with_what_to_add() -> None:
    with NotionServer(properties={"Name": "title", "Podcast": "select"}) as server:
        exporter = exporter_for(server)
        with pytest.raises(ExportError, match="'earmark id'") as caught:
            exporter.export(snip(), None)
        assert not isinstance(caught.value, Rejected)  # retried: the highlight is not at fault
        with pytest.raises(ExportError, match="'earmark id'"):
            exporter.check()
        assert server.live_pages() == []


def test_a_database_notion_does_not_show_is_a_settings_error(server: NotionServer) -> None:
    exporter = exporter_for(server, database_id="0123456789abcdef0123456789abcdef")
    with pytest.raises(ExportError, match="share the database with the integration") as caught:
        exporter.export(snip(), None)
    assert not isinstance(caught.value, Rejected)


def test_check_says_who_answers(server: NotionServer) -> None:
    line = exporter_for(server).check()
    assert line.startswith("Notion answers as earmark test; database 'Podcast snips'")
    assert line.endswith("every property found")
    assert "\n" not in line


# -- failures -------------------------------------------------------------------------


def test_a_wrong_token_is_auth_failed(server: NotionServer) -> None:
    with pytest.raises(AuthFailed, match="401"):
        exporter_for(server, token="ntn_wrong").export(snip(), None)
    with pytest.raises(AuthFailed, match="401"):
        exporter_for(server, token="ntn_wrong").check()


def test_a_token_from_an_empty_variable_is_auth_failed(
    server: NotionServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EARMARK_TEST_NOTION_TOKEN", raising=False)
    exporter = exporter_for(server, token=None, token_env="EARMARK_TEST_NOTION_TOKEN")
    with pytest.raises(AuthFailed, match="EARMARK_TEST_NOTION_TOKEN"):
        exporter.export(snip(), None)
    assert server.requests == []
    monkeypatch.setenv("EARMARK_TEST_NOTION_TOKEN", server.token)
    assert exporter.export(snip(), None)


def test_403_is_auth_failed(server: NotionServer) -> None:
    server.next(fail(403))
    with pytest.raises(AuthFailed, match="403"):
        exporter_for(server).export(snip(), None)


def test_429_waits_what_notion_asked_or_a_default(server: NotionServer) -> None:
    exporter = exporter_for(server)
    server.next(fail(429, retry_after="7"))
    with pytest.raises(RateLimited) as caught:
        exporter.export(snip(), None)
    assert caught.value.seconds == 7

    server.next(fail(429))
    with pytest.raises(RateLimited) as caught:
        exporter.export(snip(), None)
    assert caught.value.seconds == DEFAULT_RETRY_AFTER
    assert server.live_pages() == []


@pytest.mark.parametrize(
    ("fault", "said"),
    [(fail(500), "HTTP 500"), (not_json(), "not JSON"), (slow(2.0), "did not answer")],
)
def test_a_server_failure_is_target_down(server: NotionServer, fault: Fault, said: str) -> None:
    exporter = exporter_for(server, timeout=0.5)
    server.next(fault)
    with pytest.raises(TargetDown, match=said):
        exporter.export(snip(), None)
    # the next run goes through
    wait_until(lambda: all(r.status for r in server.requests))
    assert exporter.export(snip(), None)
    assert len(server.live_pages()) == 1


def test_a_failure_half_way_through_a_long_page_is_mended_by_the_next_run(
    server: NotionServer,
) -> None:
    transcript = ("Brown material gives carbon, such as dry leaves. " * 6000).strip()
    exporter = exporter_for(server)
    exporter.check()
    # query, create, then the first append of the transcript fails
    server.next(Fault(), Fault(), fail(500))
    with pytest.raises(TargetDown):
        exporter.export(snip(transcript=transcript), None)

    page_id = exporter.export(snip(transcript=transcript), None)
    assert [p["id"] for p in server.live_pages()] == [page_id]
    assert transcript_of(server, page_id)[0] == transcript
    assert server.rate_limited() == []


# -- the server keeps Notion's contract ------------------------------------------------


def call(
    server: NotionServer, method: str, path: str, body: Any = None, **headers: str
) -> tuple[int, dict[str, Any]]:
    """Notion's status and its whole answer (request_json shortens error bodies)."""
    sent = {"Authorization": f"Bearer {server.token}", "Notion-Version": VERSION, **headers}
    sent = {k: v for k, v in sent.items() if v}
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.url + path, data, sent, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def page_body(server: NotionServer, properties: Any = None, children: Any = None) -> Any:
    return {
        "parent": {"type": "data_source_id", "data_source_id": server.data_source_id},
        "properties": properties or {},
        "children": children or [],
    }


def paragraph(text: str) -> dict[str, Any]:
    return {"type": "paragraph", "paragraph": {"rich_text": [{"text": {"content": text}}]}}


@pytest.mark.parametrize("server", [{"rate": 1000.0, "burst": 1000}], indirect=True)
def test_the_server_wants_the_version_header_and_refuses_what_notion_refuses(
    server: NotionServer,
) -> None:
    status, error = call(server, "GET", "/v1/users/me", **{"Notion-Version": ""})
    assert (status, error["code"]) == (400, "missing_version")
    status, error = call(server, "GET", "/v1/users/me", Authorization="Bearer nope")
    assert (status, error["code"], error["object"]) == (401, "unauthorized", "error")

    def refused(body: Any) -> str:
        status, error = call(server, "POST", "/v1/pages", body)
        assert (status, error["code"]) == (400, "validation_error")
        return str(error["message"])

    assert refused(page_body(server, children=[paragraph("x" * 2001)])) == (
        "body failed validation: body.children[0].paragraph.rich_text[0].text.content.length"
        " should be ≤ `2000`, instead was `2001`."
    )
    # Notion counts UTF-16 units, as JavaScript does
    assert "instead was `2002`" in refused(page_body(server, children=[paragraph("🌱" * 1001)]))
    assert refused(page_body(server, children=[paragraph("a")] * 101)) == (
        "body failed validation: body.children.length should be ≤ `100`, instead was `101`."
    )
    toggle = {"type": "toggle", "toggle": {"rich_text": [], "children": [paragraph("a")] * 101}}
    assert "body.children[0].toggle.children.length should be ≤ `100`" in refused(
        page_body(server, children=[toggle])
    )
    many = [{"text": {"content": "a"}}] * 101
    assert "rich_text.length should be ≤ `100`, instead was `101`" in refused(
        page_body(server, {"earmark id": {"rich_text": many}})
    )
    assert refused(page_body(server, {"Mood": {"rich_text": []}})) == (
        "Mood is not a property that exists."
    )
    assert refused(page_body(server, {"Tags": {"rich_text": []}})) == (
        "Tags is expected to be multi_select."
    )
    status, error = call(server, "GET", "/v1/databases/0000")
    assert (status, error["code"]) == (404, "object_not_found")
    assert server.live_pages() == []
    # what it accepts, it answers as Notion does
    status, page = call(server, "POST", "/v1/pages", page_body(server, children=[paragraph("a")]))
    assert status == 200 and page["object"] == "page"
    status, listing = call(server, "GET", f"/v1/blocks/{page['id']}/children?page_size=100")
    assert status == 200 and [b["type"] for b in listing["results"]] == ["paragraph"]


def test_the_token_bucket_allows_a_burst_then_three_a_second() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = RateLimiter(rate=3.0, burst=3, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        assert bucket.acquire() == 0
    for _ in range(6):
        bucket.acquire()
    assert slept == pytest.approx([1 / 3] * 6)
    assert now[0] == pytest.approx(102.0)  # nine requests: three at once, then three a second
    now[0] += 10  # a long pause fills the bucket to its burst, no more
    for _ in range(3):
        assert bucket.acquire() == 0
    assert bucket.acquire() == pytest.approx(1 / 3)


def test_split_text_keeps_every_character_and_the_limit() -> None:
    text = "ab cd🌱 " * 1000 + "x" * 5000
    pieces = split_text(text, limit=100)
    assert "".join(pieces) == text
    assert all(utf16_length(p) <= 100 for p in pieces)
    assert split_text("") == []
