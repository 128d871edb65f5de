"""The pressed moment is always inside the final window, whatever the words."""

from __future__ import annotations

from earmark.snip.sentences import PRESS_LEAD, snap_to_sentences
from earmark.transcribe.base import Segment, Transcript, Word


def _sentence(start: float, *texts: str) -> Segment:
    words = tuple(Word(start + i, start + i + 0.8, t) for i, t in enumerate(texts))
    return Segment(words[0].start, words[-1].end, " ".join(texts), words)


def test_press_in_music_after_a_sentence_keeps_the_press_and_its_lead() -> None:
    # as seen: a press at 44.8 s, the model heard a sentence up to 29.9 s and then
    # only music; the window 29.8-49.8 s ended as 0-29.9 s
    heard = Transcript((_sentence(25.1, "so", "that", "was", "the", "news."),), source="x")
    press = 44.8
    snapped = snap_to_sentences(heard, 29.8, 49.8, hold=(press - PRESS_LEAD, press))
    assert snapped.start <= press - PRESS_LEAD and snapped.end >= press, snapped
    assert snapped.start == 25.1  # the sentence the window started in is still whole
    assert snapped.text == "so that was the news."


def test_press_in_silence_before_speech_keeps_the_press_and_its_lead() -> None:
    heard = Transcript((_sentence(40.0, "welcome", "back."),), source="x")
    snapped = snap_to_sentences(heard, 20.0, 41.0, hold=(33.0, 36.0))
    assert snapped.start <= 33.0 and snapped.end >= 41.8, snapped
