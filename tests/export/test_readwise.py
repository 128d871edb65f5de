"""Readwise over its documented highlights API v2, against a local server that
keeps that contract (``readwise_server.py``): never readwise.io itself."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from earmark.config.model import ReadwiseConfig
from earmark.export.base import AuthFailed, Episode, ExportItem, RateLimited, Rejected, TargetDown
from earmark.export.http import DEFAULT_RETRY_AFTER
from earmark.export.readwise import (
    MAX_BATCH,
    MAX_NOTE,
    MAX_TEXT,
    ReadwiseExporter,
    create_body,
    highlight_payload,
)
from earmark.store.highlights import DONE, Highlight

from ..support import wait_for
from .readwise_server import ReadwiseServer, validate

TOKEN = "rw-test-token"
EPISODE = Episode(
    podcast="The Slow Garden",
    title="Compost: air & water",
    author="Ann",
    feed_url="http://127.0.0.1/feed.xml",
    url="https://example.org/garden.mp3",
    published_at="2026-11-20T06:00:00Z",
    artwork="https://example.org/art.jpg",
)


def _highlight(hid: str = "a1b2", **fields: object) -> Highlight:
    base = Highlight(
        id=hid,
        status=DONE,
        pressed_at="2026-11-26T10:00:00.250Z",
        press_position=95.0,
        start=75.6,
        end=105.0,
        transcript="Turn the pile every week. The microbes need air.",
        title="Turn the pile weekly",
        quote="Turn the pile every week so that the microbes in the middle can breathe.",
        takeaways=("Air feeds the microbes", "Once a week is enough"),
        note="try this in spring",
        tags=("compost", "garden tips"),
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def _item(h: Highlight, link: str | None = None, episode: Episode = EPISODE) -> ExportItem:
    return ExportItem(h, episode, (h,), link=link)


@pytest.fixture
def server() -> Iterator[ReadwiseServer]:
    with ReadwiseServer(token=TOKEN) as running:
        yield running


def _exporter(
    server: ReadwiseServer, token: str = TOKEN, timeout: float = 10.0
) -> ReadwiseExporter:
    return ReadwiseExporter(ReadwiseConfig(token=token, base_url=server.url), timeout)


def test_a_highlight_becomes_a_readwise_podcast_highlight(server: ReadwiseServer) -> None:
    readwise = _exporter(server)
    h = _highlight()
    external = readwise.export(_item(h, link="http://dash.local:8080/highlights/a1b2"), None)
    stored = server.highlight(external)
    assert stored is not None and external.isdigit()
    assert stored["text"] == h.quote
    assert stored["title"] == "Compost: air & water" and stored["author"] == "The Slow Garden"
    assert stored["source_url"] == "https://example.org/garden.mp3"
    assert stored["image_url"] == "https://example.org/art.jpg"
    assert (stored["category"], stored["source_type"]) == ("podcasts", "earmark")
    assert (stored["location_type"], stored["location"]) == ("time_offset", 75)
    assert stored["highlighted_at"] == "2026-11-26T10:00:00.250000+00:00"
    assert stored["highlight_url"] == "http://dash.local:8080/highlights/a1b2"
    note = stored["note"]
    assert note.startswith(".compost .garden_tips\n\nTurn the pile weekly\n\n")
    assert "• Air feeds the microbes\n• Once a week is enough" in note
    assert note.endswith("Note: try this in spring")
    # the request itself, as documented: a token header and a list of highlights
    (post,) = server.seen("POST", "/api/v2/highlights/")
    assert post.authorization == f"Token {TOKEN}" and len(post.body["highlights"]) == 1


def test_an_edit_and_a_new_transcript_update_the_same_highlight(server: ReadwiseServer) -> None:
    readwise = _exporter(server)
    h = _highlight()
    first = readwise.export(_item(h), None)
    edited = replace(h, version=2, title="Air, weekly", note="ask Ann", tags=())
    again = readwise.export(_item(edited), first)
    retranscribed = replace(edited, version=3, quote="The microbes need air, every week.")
    third = readwise.export(_item(retranscribed), again)
    assert first == again == third
    assert len(server.highlights) == 1
    stored = server.highlight(first)
    assert stored is not None
    assert stored["text"] == "The microbes need air, every week."
    assert stored["note"].startswith("Air, weekly\n\n") and stored["note"].endswith("ask Ann")
    # no dashboard: a stable https URL on a reserved domain names the snip
    assert stored["highlight_url"] == "https://earmark.invalid/highlights/a1b2"


def test_two_snips_are_two_highlights_in_one_book(server: ReadwiseServer) -> None:
    readwise = _exporter(server)
    one = readwise.export(_item(_highlight("one")), None)
    two = readwise.export(_item(_highlight("two", start=300.0, quote="Brown gives carbon.")), None)
    assert one != two and len(server.highlights) == 2 and len(server.books) == 1


def test_a_highlight_deleted_in_readwise_is_made_again(server: ReadwiseServer) -> None:
    readwise = _exporter(server)
    h = _highlight()
    first = readwise.export(_item(h), None)
    del server.highlights[int(first)]  # the listener deleted it in Readwise
    second = readwise.export(_item(replace(h, version=2, note="again")), first)
    assert second != first and list(server.highlights) == [int(second)]


def test_text_and_note_over_the_limits_are_cut_at_a_word(server: ReadwiseServer) -> None:
    readwise = _exporter(server)
    long_quote = " ".join(["compost"] * 2000)  # 15999 characters
    long_note = " ".join(["soil"] * 3000)
    external = readwise.export(_item(_highlight(quote=long_quote, note=long_note)), None)
    stored = server.highlight(external)
    assert stored is not None
    assert len(stored["text"]) <= MAX_TEXT and stored["text"].endswith("compost…")
    assert len(stored["note"]) <= MAX_NOTE and stored["note"].endswith("soil…")


def test_without_a_quote_the_transcripts_first_sentence_is_the_text(
    server: ReadwiseServer,
) -> None:
    readwise = _exporter(server)
    h = _highlight(quote=None, title=None, takeaways=(), note="", tags=())
    stored = server.highlight(readwise.export(_item(h), None))
    assert stored is not None and stored["text"] == "Turn the pile every week."
    assert stored["note"] is None  # nothing to say: no note at all
    bare = _highlight("bare", quote=None, transcript=None, title=None)
    stored = server.highlight(readwise.export(_item(bare), None))
    assert stored is not None and stored["text"] == "A moment at 1:15"


def test_only_web_addresses_go_as_urls(server: ReadwiseServer) -> None:
    episode = replace(EPISODE, url="/srv/podcasts/garden.mp3", artwork="file:///art.jpg")
    payload = highlight_payload(_item(_highlight(), episode=episode))
    assert "source_url" not in payload and "image_url" not in payload
    assert validate(payload) == {}
    stored = server.highlight(_exporter(server).export(_item(_highlight(), episode=episode), None))
    assert stored is not None and stored["source_url"] is None


def test_the_request_builder_takes_a_list() -> None:
    payloads = [highlight_payload(_item(_highlight(str(i)))) for i in range(3)]
    assert create_body(payloads) == {"highlights": payloads}
    with pytest.raises(ValueError):
        create_body([])
    with pytest.raises(ValueError):
        create_body(payloads * (MAX_BATCH // 3 + 1))


def test_the_server_refuses_what_readwise_refuses(server: ReadwiseServer) -> None:
    """The double checks what the documentation says; a 400 is Rejected."""
    assert validate({"title": "no text"}) == {"text": ["This field is required."]}
    assert "text" in validate({"text": "x" * (MAX_TEXT + 1)})
    assert "category" in validate({"text": "x", "category": "podcast"})
    assert "location_type" in validate({"text": "x", "location_type": "seconds"})
    assert "highlight_url" in validate({"text": "x", "highlight_url": "earmark://highlight/1"})
    readwise = _exporter(server)
    with pytest.raises(Rejected, match="HTTP 400"):
        readwise._create([{"text": "", "category": "films"}])
    assert server.highlights == {}


def test_remove_deletes_and_a_highlight_already_gone_is_fine(server: ReadwiseServer) -> None:
    readwise = _exporter(server)
    item = _item(_highlight())
    external = readwise.export(item, None)
    readwise.remove(item, external)
    assert server.highlights == {}
    assert server.seen("DELETE", f"/api/v2/highlights/{external}/")[0].status == 204
    readwise.remove(item, external)  # 404: gone already, nothing to do
    assert server.seen("DELETE", f"/api/v2/highlights/{external}/")[1].status == 404
    readwise.remove(item, "not-a-readwise-id")  # never Readwise's: nothing is asked
    assert len(server.seen("DELETE", "/api/v2/highlights/not-a-readwise-id/")) == 0


def test_check_says_the_token_is_good_or_refused(server: ReadwiseServer) -> None:
    assert "Readwise accepts the token" in _exporter(server).check()
    assert server.seen("GET", "/api/v2/auth/")[0].status == 204
    with pytest.raises(AuthFailed, match="HTTP 401"):
        _exporter(server, token="wrong").check()


def test_a_missing_token_variable_is_an_auth_failure(
    server: ReadwiseServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EARMARK_TEST_READWISE", raising=False)
    config = ReadwiseConfig(token_env="EARMARK_TEST_READWISE", base_url=server.url)
    with pytest.raises(AuthFailed, match="EARMARK_TEST_READWISE"):
        ReadwiseExporter(config).export(_item(_highlight()), None)
    assert server.requests == []
    monkeypatch.setenv("EARMARK_TEST_READWISE", TOKEN)
    assert ReadwiseExporter(config).export(_item(_highlight()), None).isdigit()


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_is_an_auth_failure(server: ReadwiseServer, status: int) -> None:
    readwise = _exporter(server, token="wrong") if status == 401 else _exporter(server)
    if status == 403:
        server.fail(403)
    with pytest.raises(AuthFailed, match=f"HTTP {status}"):
        readwise.export(_item(_highlight()), None)
    assert server.highlights == {}


def test_a_rate_limit_says_how_long_to_wait(server: ReadwiseServer) -> None:
    server.fail(429, retry_after="17")
    with pytest.raises(RateLimited) as limited:
        _exporter(server).export(_item(_highlight()), None)
    assert limited.value.seconds == 17
    server.fail(429)  # no Retry-After: the default wait
    with pytest.raises(RateLimited) as limited:
        _exporter(server).export(_item(_highlight()), None)
    assert limited.value.seconds == DEFAULT_RETRY_AFTER


def test_the_servers_own_rate_limit_answers_429_with_retry_after() -> None:
    with ReadwiseServer(token=TOKEN, limit=2, window=3600) as server:
        readwise = _exporter(server)
        for hid in ("one", "two"):
            readwise.export(_item(_highlight(hid, quote=f"Quote {hid}.")), None)
        with pytest.raises(RateLimited) as limited:
            readwise.export(_item(_highlight("three", quote="Quote three.")), None)
        assert 1 <= limited.value.seconds <= 3600
        assert server.seen("POST", "/api/v2/highlights/")[-1].status == 429
        assert len(server.highlights) == 2


def test_a_server_error_or_garbage_is_target_down(server: ReadwiseServer) -> None:
    readwise = _exporter(server)
    server.fail(500)
    with pytest.raises(TargetDown, match="HTTP 500"):
        readwise.export(_item(_highlight()), None)
    server.not_json()
    with pytest.raises(TargetDown, match="not JSON"):
        readwise.export(_item(_highlight()), None)
    assert server.highlights == {}
    assert readwise.export(_item(_highlight()), None).isdigit()  # and then it works


def test_a_slow_answer_is_target_down_and_the_retry_finds_the_same_highlight(
    server: ReadwiseServer,
) -> None:
    readwise = _exporter(server, timeout=0.3)
    server.slow(30)
    with pytest.raises(TargetDown, match="did not answer"):
        readwise.export(_item(_highlight()), None)
    # Readwise did the work though: the retry updates that one, no second
    wait_for(lambda: server.highlights, timeout=10, what="the slow request's highlight")
    (made,) = server.highlights
    assert _exporter(server).export(_item(_highlight()), None) == str(made)
    assert len(server.highlights) == 1


def test_an_answer_without_ids_is_target_down_unless_it_held_one(
    server: ReadwiseServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    readwise = _exporter(server)
    monkeypatch.setattr(server, "_book_answer", lambda book_id, ids: {"id": book_id})
    with pytest.raises(TargetDown, match="without the highlight's id"):
        readwise.export(_item(_highlight()), None)
    assert readwise.export(_item(_highlight()), "1234") == "1234"
