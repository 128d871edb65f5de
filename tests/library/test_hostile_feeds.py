"""Feeds from the wild: hostile, broken, huge or oddly encoded, and what survives of them."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from earmark.errors import FeedError
from earmark.library.feeds import (
    MAX_DESCRIPTION,
    MAX_EPISODES,
    MAX_TITLE,
    MAX_URL,
    parse_feed,
)

from .test_feeds import HEAD, TAIL, feed, item

URL = "https://trains.example/podcast/feed.xml"


def test_script_in_a_title_or_description_never_survives() -> None:
    hostile = item(
        title="Vienna &lt;script&gt;alert(1)&lt;/script&gt; to &amp;lt;script&amp;gt;Rome",
        extra="<description><![CDATA[<p onclick='steal()'>Alps</p><script>alert(2)</script>"
        "<a href='javascript:alert(3)'>more</a><img src='data:image/png;base64,xx'>]]>"
        "</description>",
    )
    [episode] = parse_feed(feed(hostile), URL).episodes
    assert "<script" not in episode.title.lower() and "alert" not in episode.title
    assert episode.title.startswith("Vienna to")
    for bad in ("<script", "alert(2)", "onclick", "javascript:", "data:"):
        assert bad not in episode.description
    assert "Alps" in episode.description


def test_titles_and_names_are_plain_text() -> None:
    extra = (
        '<podcast:person role="Guest" href="https://p.example/ada">'
        "&lt;b&gt;Ada&lt;/b&gt;   &amp;amp;\n Co</podcast:person>"
    )
    [episode] = parse_feed(
        feed(item(title="&lt;i&gt;Night&lt;/i&gt;\n\t train", extra=extra)), URL
    ).episodes
    assert episode.title == "Night train"
    [person] = episode.persons
    assert (person.name, person.role, person.group) == ("Ada & Co", "guest", "cast")


@pytest.mark.parametrize(
    "href",
    [
        "file:///etc/passwd",
        "ftp://trains.example/1.mp3",
        "javascript:alert(1)",
        "data:audio/mpeg;base64,AAAA",
        "https://" + "a" * MAX_URL + ".example/1.mp3",
    ],
)
def test_an_episode_whose_enclosure_is_not_http_is_skipped(href: str) -> None:
    parsed = parse_feed(feed(item("bad", href), item("good")), URL)
    assert [e.guid for e in parsed.episodes] == ["good"]


def test_relative_urls_are_resolved_against_the_feed_and_others_dropped() -> None:
    extra = (
        '<podcast:transcript url="../text/1.vtt" type="text/vtt"/>'
        '<podcast:transcript url="file:///etc/shadow" type="text/vtt"/>'
        '<podcast:chapters url="javascript:alert(1)" type="application/json+chapters"/>'
        '<itunes:image href="art/1.jpg"/>'
        '<podcast:person img="data:image/png;base64,xx" href="/people/ada">Ada</podcast:person>'
    )
    parsed = parse_feed(feed(item(url="audio/1.mp3", extra=extra)), URL)
    [episode] = parsed.episodes
    assert episode.enclosure_url == "https://trains.example/podcast/audio/1.mp3"
    assert [t.url for t in episode.transcripts] == ["https://trains.example/text/1.vtt"]
    assert episode.chapters_url is None
    assert episode.image == "https://trains.example/podcast/art/1.jpg"
    [person] = episode.persons
    assert (person.href, person.img) == ("https://trains.example/people/ada", None)


def test_long_fields_are_capped() -> None:
    long_title = "T" * (50 * MAX_TITLE)
    long_notes = "&lt;p&gt;" + "word " * (MAX_DESCRIPTION // 2) + "&lt;/p&gt;"
    [episode] = parse_feed(
        feed(item(title=long_title, extra=f"<description>{long_notes}</description>")), URL
    ).episodes
    assert len(episode.title) == MAX_TITLE
    assert 0 < len(episode.description) <= MAX_DESCRIPTION
    assert episode.description.startswith("<p>word word")


def test_a_huge_description_is_cut_before_it_is_parsed() -> None:
    # 50 MB in one text node
    notes = "Alps &amp; lakes " * (50 * 1024 * 1024 // 17)
    data = feed(item(extra=f"<description>{notes}</description>"))
    [episode] = parse_feed(data, URL).episodes
    assert episode.description.startswith("Alps &amp; lakes")
    assert len(episode.description) <= MAX_DESCRIPTION


def test_a_feed_of_ten_thousand_items_parses_and_keeps_the_newest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    items = [
        item(
            f"ep{n}",
            f"https://trains.example/{n}.mp3",
            extra=f"<pubDate>{time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime(n * 3600))}"
            "</pubDate>",
        )
        for n in range(2 * MAX_EPISODES)
    ]
    with caplog.at_level(logging.INFO, logger="earmark.library.feeds"):
        parsed = parse_feed(feed(*items), URL)
    assert len(parsed.episodes) == MAX_EPISODES
    assert {e.guid for e in parsed.episodes} == {
        f"ep{n}" for n in range(MAX_EPISODES, 2 * MAX_EPISODES)
    }
    dropped = [r for r in caplog.records if "reason=more than" in r.getMessage()]
    assert len(dropped) == 1 and f"count={MAX_EPISODES}" in dropped[0].getMessage()


def test_duplicate_guids_are_one_warning_with_the_count(caplog: pytest.LogCaptureFixture) -> None:
    items = [item("same", f"https://t.example/{n}.mp3") for n in range(5)]
    with caplog.at_level(logging.WARNING, logger="earmark.library.feeds"):
        parsed = parse_feed(feed(*items, item("other")), URL)
    assert [e.guid for e in parsed.episodes] == ["same", "other"]
    assert parsed.duplicate_guids == 4
    warnings = [r.getMessage() for r in caplog.records if "duplicate guid" in r.getMessage()]
    assert warnings == [f"feed episodes skipped url={URL} count=4 reason=duplicate guid"]


LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY lol "lol">\n'
    + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">\n'
        for n in range(1, 10)
    )
    + ']>\n<rss version="2.0"><channel><title>Laughs &lol9;</title>'
    "<item><title>Ha &lol9;</title><guid>g</guid><description>&lol9;</description>"
    '<enclosure url="https://l.example/1.mp3" type="audio/mpeg"/></item></channel></rss>'
)


def test_billion_laughs_stay_inert() -> None:
    parsed = parse_feed(LAUGHS.encode(), URL)  # expanded, it would take gigabytes
    [episode] = parsed.episodes
    assert "lollol" not in parsed.title + episode.title + episode.description
    assert parsed.title.startswith("Laughs") and episode.title.startswith("Ha")


def test_billion_laughs_in_an_attribute_stay_inert() -> None:
    data = LAUGHS.replace('url="https://l.example/1.mp3"', 'url="https://l.example/&lol9;.mp3"')
    parsed = parse_feed(data.encode(), URL)
    assert all("lollol" not in e.enclosure_url for e in parsed.episodes)


def test_a_feed_cut_off_mid_document_is_a_one_line_error() -> None:
    data = feed(item("ep1"), item("ep2"), item("ep3"))
    for cut in (int(len(data) * 0.7), len(data) // 2, len(data) - 40):
        with pytest.raises(FeedError, match="cut off") as error:
            parse_feed(data[:cut], URL)
        assert "\n" not in str(error.value)


def test_a_broken_feed_cut_off_mid_document_is_still_an_error() -> None:
    # a stray "&" sends the feed to the lenient parser, which must still see the cut
    data = feed(item("ep1", title="Trains & boats"), item("ep2"), item("ep3")).replace(
        b"&amp;", b"&"
    )
    with pytest.raises(FeedError, match="cut off"):
        parse_feed(data[: int(len(data) * 0.7)], URL)


@pytest.mark.parametrize("tail", ["</channel>\n</rss", "</channel>\n", "", "</channel></rs"])
def test_a_feed_missing_only_its_closing_tags_keeps_its_episodes(tail: str) -> None:
    data = (HEAD + item("ep1") + item("ep2") + tail).encode()
    parsed = parse_feed(data, URL)
    assert [e.guid for e in parsed.episodes] == ["ep1", "ep2"]
    assert parsed.title == "Night Trains"


UNDECLARED = (
    '<rss version="2.0"><channel><title>Grüße aus dem Café</title>'
    "<description>Schöne Grüße, naïve Gäste</description>"
    "<item><title>Crème brûlée</title><guid>g</guid>"
    '<enclosure url="https://c.example/1.mp3" type="audio/mpeg"/></item></channel></rss>'
)


@pytest.mark.parametrize("encoding", ["windows-1252", "iso-8859-1"])
@pytest.mark.parametrize("content_type", [None, "text/xml", "application/rss+xml"])
def test_an_undeclared_western_encoding_is_read_as_text(
    encoding: str, content_type: str | None
) -> None:
    parsed = parse_feed(UNDECLARED.encode(encoding), URL, content_type=content_type)
    assert parsed.title == "Grüße aus dem Café"
    assert parsed.description == "Schöne Grüße, naïve Gäste"
    assert parsed.episodes[0].title == "Crème brûlée"


def test_the_http_charset_names_an_undeclared_encoding() -> None:
    text = (
        UNDECLARED.replace("Grüße aus dem Café", "Ночные поезда")
        .replace("Schöne Grüße, naïve Gäste", "По Европе")
        .replace("Crème brûlée", "Вена")
    )
    parsed = parse_feed(text.encode("koi8-r"), URL, content_type="text/xml; charset=KOI8-R")
    assert parsed.title == "Ночные поезда"


@pytest.mark.parametrize("content_type", [None, "application/xml; charset=utf-8"])
def test_a_feed_that_says_utf8_but_is_latin1_is_read(content_type: str | None) -> None:
    data = ('<?xml version="1.0" encoding="utf-8"?>' + UNDECLARED).encode("iso-8859-1")
    parsed = parse_feed(data, URL, content_type=content_type)
    assert parsed.title == "Grüße aus dem Café"


def test_a_live_item_is_neither_an_episode_nor_the_channel() -> None:
    live = (
        '<podcast:liveItem status="live" start="2024-01-01T20:00:00Z">'
        "<title>LIVE NOW</title><description>Live stream tonight</description>"
        "<guid>live-1</guid><link>https://live.example/</link>"
        '<enclosure url="https://live.example/stream.mp3" type="audio/mpeg"/>'
        "</podcast:liveItem>"
    )
    early = (
        HEAD.replace("<title>Night Trains</title>", live + "<title>Night Trains</title>")
        + item()
        + TAIL
    )
    for data in (
        feed(item()).replace(b"</channel>", live.encode() + b"</channel>"),
        early.encode(),
    ):
        parsed = parse_feed(data, URL)
        assert (parsed.title, parsed.description, parsed.link) == (
            "Night Trains",
            "Sleeper trains across Europe.",
            "https://trains.example/",
        )
        assert [e.guid for e in parsed.episodes] == ["ep1"]


def test_a_live_item_in_a_broken_feed_is_not_the_channel() -> None:
    live = "<podcast:liveItem><description>Live stream</description></podcast:liveItem>"
    data = (
        feed(item(title="A & B"))
        .replace(b"&amp;", b"&")
        .replace(b"<item>", live.encode() + b"<item>")
    )
    parsed = parse_feed(data, URL)
    assert parsed.description == "Sleeper trains across Europe."
    assert [e.title for e in parsed.episodes] == ["A & B"]


# VmHWM, the peak of this process's own memory: ru_maxrss would carry pytest's
# peak across the child's exec (subprocess starts it with vfork), hiding the parse
MEASURE = """
import re, sys
from earmark.library.feeds import parse_feed
def peak_kb():
    with open("/proc/self/status") as status:
        return int(re.search(r"VmHWM:\\s+(\\d+)", status.read()).group(1))
data = open(sys.argv[1], "rb").read()
idle = peak_kb()
parse_feed(data, "https://trains.example/feed.xml")
print(idle, peak_kb())
"""


def test_a_50_mb_description_costs_little_memory(tmp_path: Path) -> None:
    notes = "<p>Alps &amp; lakes</p>\n" * (50 * 1024 * 1024 // 24)
    path = tmp_path / "huge.xml"
    path.write_bytes(feed(item(extra=f"<description><![CDATA[{notes}]]></description>")))
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(MEASURE), str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    idle_kb, peak_kb = map(int, out.split())
    # the document itself is in memory at idle; the parse may add a fraction of it
    assert peak_kb - idle_kb < 25 * 1024, (idle_kb, peak_kb)
