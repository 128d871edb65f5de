"""OPML import and export.

The fixtures under ``opml/`` copy the shape real apps export, with invented
feeds:

- ``antennapod.opml``: AntennaPod's ``OpmlWriter`` (OPML 2.0, ``standalone='no'``
  declaration, ``<dateCreated>``, flat outlines with text, title, type, xmlUrl
  and an optional htmlUrl; type is the feed's, ``rss`` or ``atom``).
- ``pocketcasts.opml``: Pocket Casts Android's ``OpmlExporter`` (OPML 1.0,
  ``standalone='yes'``, every feed inside ``<outline text="feeds">`` with only
  type, text and xmlUrl).
- ``overcast.opml``: Overcast's "all data" export (playlists, then feeds that
  nest their ``type="podcast-episode"`` outlines with overcastId, progress,
  played, enclosureUrl and dates).
- ``apple_itunes.opml``: iTunes' podcast export as remembered, NOT checked
  against a real file (today's Apple Podcasts exports no OPML).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from earmark.errors import EarmarkError
from earmark.library.opml import (
    MAX_BYTES,
    MAX_FEEDS,
    MAX_TITLE,
    OpmlError,
    OpmlFeed,
    read_opml,
    write_opml,
)

FIXTURES = Path(__file__).parent / "opml"
LOGGER = "earmark.library.opml"
NOW = datetime(2026, 3, 14, 9, 12, 44, tzinfo=UTC)


def _opml(*outlines: str) -> bytes:
    body = "\n".join(outlines)
    return f'<?xml version="1.0"?>\n<opml version="2.0"><body>\n{body}\n</body></opml>'.encode()


def _error(data: bytes, source: str = "subs.opml") -> str:
    with pytest.raises(OpmlError) as caught:
        read_opml(data, source)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(source)
    return message


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "antennapod.opml",
            [
                OpmlFeed("https://feeds.example.org/kaffee.xml", "Kaffee & Kuchen"),
                OpmlFeed("https://feeds.example.org/ueber-bord?format=rss&lang=de", "Über Bord"),
                OpmlFeed("https://feeds.example.org/atom-hour.atom", 'The "Atom" Hour'),
                OpmlFeed("http://feeds.example.org/plain", "Plain Old Podcast"),
            ],
        ),
        (
            "pocketcasts.opml",
            [
                OpmlFeed("https://feeds.example.org/night-shift", "Night Shift Radio"),
                OpmlFeed("https://podcasts.example.net/gardeners.rss", "Gardeners' Questions"),
                OpmlFeed("https://feeds.example.org/ca-va", "Ça va, l'économie ?"),
                OpmlFeed("https://members.example.com/rss/private?auth=0123abcd", "Private Feed"),
            ],
        ),
        (
            "overcast.opml",
            [
                OpmlFeed("https://feeds.example.org/great-terrible?format=RSS", "Great & Terrible"),
                OpmlFeed("https://girlinspace.example.net/rss", "Girl in Space"),
                OpmlFeed("https://fitheads.example.com/rss", "Total Fitheads"),
            ],
        ),
        (
            "apple_itunes.opml",
            [
                OpmlFeed("https://feeds.example.org/morning-briefing.xml", "Morning Briefing"),
                OpmlFeed(
                    "http://podcasts.example.com/tech-society/feed.rss", "Tech & Society Weekly"
                ),
                OpmlFeed("https://feeds.example.org/cafe", "Café Stories"),
            ],
        ),
    ],
)
def test_an_app_export_reads_to_its_feeds_in_order(
    fixture: str, expected: list[OpmlFeed], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER):
        feeds = read_opml((FIXTURES / fixture).read_bytes(), fixture)
    assert feeds == expected
    assert [r for r in caplog.records if r.name == LOGGER] == []


def test_overcast_episode_outlines_are_not_feeds() -> None:
    data = (FIXTURES / "overcast.opml").read_bytes()
    assert b"https://great-terrible.example.org/12" in data  # an episode's url is there
    urls = {feed.url for feed in read_opml(data)}
    assert not {url for url in urls if "great-terrible.example.org" in url}


def test_a_written_list_reads_back_the_same() -> None:
    feeds = [
        OpmlFeed("https://feeds.example.org/a?x=1&y=2", 'Tom & Jerry\'s "Best" Bits'),
        OpmlFeed("https://feeds.example.org/b", "1 < 2 > 0 & <3"),
        OpmlFeed("http://feeds.example.org/c", "Über Straße — 日本語 🎧"),
        OpmlFeed("https://feeds.example.org/d", ""),
    ]
    assert read_opml(write_opml(feeds, now=NOW)) == feeds


def test_a_written_list_is_opml_2_with_a_head_and_one_rss_outline_a_feed() -> None:
    data = write_opml(
        [OpmlFeed("https://feeds.example.org/a?x=1&y=2", 'A "quoted" <b> & c')],
        title="Mine & yours",
        now=datetime(2026, 3, 14, 10, 12, 44, tzinfo=timezone(timedelta(hours=1))),
    )
    root = ET.fromstring(data)  # a second parser agrees on the escaping
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "Mine & yours"
    assert root.findtext("head/dateCreated") == "Sat, 14 Mar 2026 09:12:44 GMT"
    outlines = root.findall("body/outline")
    assert [o.attrib for o in outlines] == [
        {
            "type": "rss",
            "text": 'A "quoted" <b> & c',
            "title": 'A "quoted" <b> & c',
            "xmlUrl": "https://feeds.example.org/a?x=1&y=2",
        }
    ]


def test_the_same_list_writes_the_same_bytes() -> None:
    feeds = [OpmlFeed(f"https://feeds.example.org/{i}", f"Show {i}") for i in range(3)]
    assert write_opml(feeds, now=NOW) == write_opml(iter(feeds), now=NOW)
    assert write_opml(feeds, now=NOW) != write_opml(feeds, now=NOW + timedelta(seconds=1))


def test_characters_xml_cannot_carry_are_left_out_of_a_written_title() -> None:
    data = write_opml([OpmlFeed("https://feeds.example.org/a", "bell\x07 and\x00 nul")], now=NOW)
    assert read_opml(data) == [OpmlFeed("https://feeds.example.org/a", "bell and nul")]


def test_a_document_of_500_feeds_reads_all_500() -> None:
    feeds = [OpmlFeed(f"https://feeds.example.org/{i}.xml", f"Show {i}") for i in range(500)]
    assert read_opml(write_opml(feeds, now=NOW)) == feeds


def test_more_feeds_than_the_cap_is_an_error() -> None:
    feeds = [OpmlFeed(f"https://f.example.org/{i}", "") for i in range(MAX_FEEDS + 1)]
    assert read_opml(write_opml(feeds[:MAX_FEEDS], now=NOW)) == feeds[:MAX_FEEDS]
    message = _error(write_opml(feeds, now=NOW))
    assert f"more than {MAX_FEEDS} feeds" in message


def test_a_document_over_the_size_cap_is_refused_unread() -> None:
    head = _opml('<outline text="a" xmlUrl="https://feeds.example.org/a"/>')
    padding = b"<!--" + b"x" * (MAX_BYTES - len(head) - 7) + b"-->"
    assert read_opml(head + padding) == [OpmlFeed("https://feeds.example.org/a", "a")]
    message = _error(head + padding + b"\n")
    assert "too large" in message


@pytest.mark.parametrize("data", [b"", b"  \n\t "])
def test_an_empty_document_is_an_error(data: bytes) -> None:
    assert "is empty" in _error(data)


def test_an_html_page_is_not_opml() -> None:
    page = b"<!DOCTYPE html>\n<html><head><meta charset=utf-8><title>Subscriptions</title>"
    assert "is a web page (HTML), not OPML (no <opml> element)" in _error(page)


def test_an_xhtml_page_without_a_doctype_is_not_opml() -> None:
    page = b'<html xmlns="http://www.w3.org/1999/xhtml"><body><a href="x">x</a></body></html>'
    assert "is a web page (HTML), not OPML" in _error(page)


def test_an_rss_feed_is_not_opml() -> None:
    feed = b'<?xml version="1.0"?><rss version="2.0"><channel><title>A show</title></channel></rss>'
    assert "is an RSS feed, not OPML (no <opml> element)" in _error(feed)


def test_another_xml_document_is_not_opml() -> None:
    assert "is not OPML (no <opml> element; it starts with <svg>)" in _error(b"<svg/>")


def test_garbage_is_not_opml() -> None:
    assert "is not OPML (not XML" in _error(bytes(range(1, 256)))


def test_a_truncated_document_is_called_cut_off() -> None:
    whole = (FIXTURES / "pocketcasts.opml").read_bytes()
    assert "is cut off at line" in _error(whole[: len(whole) // 2])


def test_an_entity_bomb_is_refused_without_expanding() -> None:
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
    ]
    bomb = (
        f'<?xml version="1.0"?>\n<!DOCTYPE opml [{"".join(levels)}]>\n'
        '<opml><body><outline title="&lol9;" xmlUrl="https://feeds.example.org/a"/></body></opml>'
    ).encode()
    assert "declares XML entities (<!ENTITY lol0>)" in _error(bomb)


def test_an_external_entity_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("LEAKED")
    data = (
        f'<?xml version="1.0"?>\n<!DOCTYPE opml [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>\n'
        '<opml><body><outline xmlUrl="https://feeds.example.org/a">&xxe;</outline></body></opml>'
    ).encode()
    assert "declares XML entities (<!ENTITY xxe>)" in _error(data)


def test_an_external_dtd_is_never_loaded(tmp_path: Path) -> None:
    dtd = tmp_path / "evil.dtd"
    dtd.write_text('<!ENTITY secret "LEAKED">')
    data = (
        f'<?xml version="1.0"?>\n<!DOCTYPE opml SYSTEM "{dtd.as_uri()}">\n'
        '<opml><body><outline title="a&secret;b" xmlUrl="https://feeds.example.org/a"/>'
        "</body></opml>"
    ).encode()
    assert read_opml(data) == [OpmlFeed("https://feeds.example.org/a", "ab")]


def test_addresses_that_are_not_http_are_skipped_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = _opml(
        '<outline text="local" xmlUrl="file:///etc/passwd"/>',
        '<outline text="kept" xmlUrl="https://feeds.example.org/kept"/>',
        '<outline text="script" xmlUrl="javascript:alert(1)"/>',
        '<outline text="relative" xmlUrl="/feeds/relative.xml"/>',
        '<outline text="no host" xmlUrl="https:///nohost"/>',
    )
    with caplog.at_level(logging.INFO, logger=LOGGER):
        feeds = read_opml(data, "subs.opml")
    assert feeds == [OpmlFeed("https://feeds.example.org/kept", "kept")]
    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert lines == [
        "opml outlines skipped source=subs.opml not_http=4 "
        "kinds=file,javascript,no-host,relative duplicates=0"
    ]


def test_a_repeated_address_keeps_its_first_outline(caplog: pytest.LogCaptureFixture) -> None:
    data = _opml(
        '<outline text="first" xmlUrl="https://feeds.example.org/a"/>',
        '<outline text="other" xmlUrl="https://feeds.example.org/b"/>',
        '<outline text="again" xmlUrl=" https://feeds.example.org/a "/>',
    )
    with caplog.at_level(logging.INFO, logger=LOGGER):
        feeds = read_opml(data, "subs.opml")
    assert feeds == [
        OpmlFeed("https://feeds.example.org/a", "first"),
        OpmlFeed("https://feeds.example.org/b", "other"),
    ]
    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert lines == ["opml outlines skipped source=subs.opml not_http=0 kinds=- duplicates=1"]


def test_a_document_of_folders_only_has_no_feeds() -> None:
    data = _opml('<outline text="Tech"><outline text="Empty folder"/></outline>')
    assert _error(data) == "subs.opml has no podcast feeds in it (no outline has an xmlUrl)"


def test_a_document_of_local_files_only_has_no_feeds() -> None:
    data = _opml('<outline text="a" xmlUrl="file:///a.xml"/>', '<outline text="b" xmlUrl="b.xml"/>')
    assert _error(data) == (
        "subs.opml has no podcast feeds in it (addresses not http(s) skipped: 2)"
    )


def test_feeds_nested_in_folders_at_any_depth_are_found() -> None:
    data = _opml(
        '<outline text="A"><outline text="B"><outline text="C">',
        '<outline text="deep" type="rss" xmlUrl="https://feeds.example.org/deep"/>',
        "</outline></outline></outline>",
        '<outline text="top" xmlUrl="https://feeds.example.org/top"/>',
    )
    assert [f.title for f in read_opml(data)] == ["deep", "top"]


def test_the_feed_address_attribute_is_read_in_the_spellings_exporters_use() -> None:
    data = _opml(
        '<outline text="lower" xmlurl="https://feeds.example.org/lower"/>',
        '<outline text="upper" xmlURL="https://feeds.example.org/upper"/>',
        '<outline text="rss url" type="rss" url="https://feeds.example.org/rss-url"/>',
        '<outline text="link url" type="link" url="https://feeds.example.org/link-url"/>',
        '<outline text="untyped url" url="https://feeds.example.org/untyped"/>',
        '<outline text="episode" type="podcast-episode" url="https://feeds.example.org/ep"/>',
        '<outline text="page" htmlUrl="https://feeds.example.org/page"/>',
    )
    assert [f.url for f in read_opml(data)] == [
        "https://feeds.example.org/lower",
        "https://feeds.example.org/upper",
        "https://feeds.example.org/rss-url",
        "https://feeds.example.org/link-url",
    ]


def test_a_title_is_plain_text_from_title_else_text() -> None:
    long = "x" * (MAX_TITLE + 50)
    data = _opml(
        '<outline title="Both" text="ignored" xmlUrl="https://f.example.org/1"/>',
        '<outline text="Only text" xmlUrl="https://f.example.org/2"/>',
        '<outline title="  &lt;b&gt;Bold&lt;/b&gt;\n\tand   spaced " xmlUrl="https://f.example.org/3"/>',
        f'<outline title="{long}" xmlUrl="https://f.example.org/4"/>',
        '<outline title="&lt;br/&gt;" text="Text when title is only a tag" '
        'xmlUrl="https://f.example.org/5"/>',
        '<outline xmlUrl="https://f.example.org/6"/>',
    )
    assert [f.title for f in read_opml(data)] == [
        "Both",
        "Only text",
        "Bold and spaced",
        "x" * MAX_TITLE,
        "Text when title is only a tag",
        "",
    ]


def test_opml_errors_are_earmark_errors() -> None:
    assert issubclass(OpmlError, EarmarkError)
