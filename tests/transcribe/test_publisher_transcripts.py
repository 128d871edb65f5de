"""Publisher transcripts (podcast:transcript): VTT, SRT, Podcasting 2.0 JSON."""

from __future__ import annotations

import json

import pytest

from earmark.library.transcripts import (
    TranscriptFormatError,
    UntimedTranscriptError,
    covers,
    parse_transcript,
    window_text,
)
from earmark.snip.sentences import snap_to_sentences

VTT = """WEBVTT

NOTE made by hand

1
00:00:00.500 --> 00:00:04.000
<v Alice>Welcome back to the slow garden.</v>

2
00:00:04.000 --> 00:00:09.250 align:start
Today we talk about <b>compost</b> &amp; soil.

00:09.250 --> 00:15.000
A good pile needs air
and a little water.
"""

SRT = """1
00:00:00,500 --> 00:00:04,000
Welcome back to the slow garden.

2
00:00:04,000 --> 00:00:09,250
Today we talk about compost & soil.

3
00:00:09,250 --> 00:00:15,000
A good pile needs air
and a little water.
"""

JSON = json.dumps(
    {
        "version": "1.0.0",
        "segments": [
            {
                "speaker": "Alice",
                "startTime": 0.5,
                "endTime": 4.0,
                "body": "Welcome back to the slow garden.",
            },
            {
                "speaker": "Alice",
                "startTime": 4.0,
                "endTime": 9.25,
                "body": "Today we talk about compost & soil.",
            },
            {
                "startTime": 9.25,
                "endTime": 15.0,
                "body": "A good pile needs air and a little water.",
            },
        ],
    }
)

TEXTS = (
    "Welcome back to the slow garden.",
    "Today we talk about compost & soil.",
    "A good pile needs air and a little water.",
)


@pytest.mark.parametrize(
    ("body", "mime"), [(VTT, "text/vtt"), (SRT, "application/x-subrip"), (JSON, "application/json")]
)
def test_timed_formats_become_publisher_segments(body: str, mime: str) -> None:
    transcript = parse_transcript(body, mime)
    assert [s.text for s in transcript.segments] == list(TEXTS)
    assert [(s.start, s.end) for s in transcript.segments] == [
        (0.5, 4.0),
        (4.0, 9.25),
        (9.25, 15.0),
    ]
    assert transcript.source == "publisher"


def test_bytes_with_a_byte_order_mark_and_crlf_are_read() -> None:
    body = ("\ufeff" + SRT.replace("\n", "\r\n")).encode("utf-8")
    assert parse_transcript(body, "application/x-subrip; charset=utf-8").text.startswith("Welcome")


def test_hours_in_timestamps_count() -> None:
    body = "WEBVTT\n\n01:02:03.500 --> 01:02:05.000\nLate in the show.\n"
    (segment,) = parse_transcript(body, "text/vtt").segments
    assert (segment.start, segment.end) == (3723.5, 3725.0)


@pytest.mark.parametrize("mime", ["text/plain", "text/html"])
def test_untimed_transcripts_are_rejected_as_unable_to_cover_a_window(mime: str) -> None:
    with pytest.raises(UntimedTranscriptError, match="no timings"):
        parse_transcript("Welcome back to the slow garden.", mime)


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(TranscriptFormatError, match="not VTT, SRT or JSON"):
        parse_transcript("x", "audio/mpeg")


@pytest.mark.parametrize(
    ("body", "mime", "why"),
    [
        ("00:00:01.000 --> 00:00:02.000\nhi\n", "text/vtt", "must start with 'WEBVTT'"),
        ("WEBVTT\n\n00:00:01.000 --> soon\nhi\n", "text/vtt", "malformed cue timing"),
        ("1\n00:00:05,000 --> 00:00:02,000\nbackwards\n", "application/x-subrip", "ends before"),
        ("just some words\n", "application/x-subrip", "no timed cues"),
        ("{not json", "application/json", "not valid JSON"),
        ('{"version": "1.0.0"}', "application/json", "no 'segments' list"),
        ('{"segments": [{"body": "no times"}]}', "application/json", "startTime/endTime"),
        (
            '{"segments": [{"startTime": "x", "endTime": 1, "body": "a"}]}',
            "application/json",
            "startTime/endTime",
        ),
        ('{"segments": []}', "application/json", "no timed segments"),
        ("[1, 2, 3]", "application/json", "no 'segments' list"),
    ],
)
def test_malformed_transcripts_raise_a_clear_error(body: str, mime: str, why: str) -> None:
    with pytest.raises(TranscriptFormatError, match=why):
        parse_transcript(body, mime)


def test_covers_a_window_inside_its_span() -> None:
    transcript = parse_transcript(SRT, "application/x-subrip")
    assert covers(transcript, 1.0, 14.0)
    assert covers(transcript, 0.0, 15.0)


def test_does_not_cover_a_window_past_its_end() -> None:
    transcript = parse_transcript(SRT, "application/x-subrip")
    assert not covers(transcript, 10.0, 40.0)
    assert not covers(transcript, 100.0, 120.0)


def test_window_text_takes_the_cues_mostly_inside() -> None:
    transcript = parse_transcript(JSON, "application/json")
    assert window_text(transcript, 3.5, 10.0) == TEXTS[1]
    assert window_text(transcript, 5.0, 6.0) == TEXTS[1]  # one cue longer than the window


def test_a_publisher_transcript_snaps_to_cue_edges() -> None:
    transcript = parse_transcript(VTT, "text/vtt")
    assert snap_to_sentences(transcript, 5.0, 10.0) == (4.0, 15.0, " ".join(TEXTS[1:]))
