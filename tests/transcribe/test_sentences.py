"""Snapping a snip's window to whole sentences."""

from __future__ import annotations

import pytest

from earmark.snip.sentences import ends_sentence, snap_to_sentences, split_sentences
from earmark.transcribe.base import Segment, Transcript, Word

from ..conftest import Episode
from ..support import word_error_rate


def spoken(text: str, start: float = 0.0, step: float = 0.5, pause: float = 0.0) -> list[Word]:
    """Words of ``text`` every ``step`` s; ``pause`` s extra after each sentence end."""
    words, t = [], start
    for token in text.split():
        words.append(Word(t, t + step * 0.8, token))
        t += step + (pause if ends_sentence(token) else 0.0)
    return words


def transcript_of(*words: Word) -> Transcript:
    return Transcript(segments=(Segment(words[0].start, words[-1].end, "", tuple(words)),))


# "One two three. Four five six? Seven eight nine!" — a word every 0.5 s
THREE = transcript_of(*spoken("One two three. Four five six? Seven eight nine!"))


def test_a_window_inside_one_sentence_grows_to_that_sentence() -> None:
    assert snap_to_sentences(THREE, 1.6, 2.1) == (1.5, 2.9, "Four five six?")


def test_start_and_end_grow_to_their_own_sentences() -> None:
    start, end, text = snap_to_sentences(THREE, 0.6, 3.1)
    assert (start, end) == (0.0, 4.4)
    assert text == "One two three. Four five six? Seven eight nine!"


def test_a_window_on_sentence_edges_stays_put() -> None:
    assert snap_to_sentences(THREE, 1.5, 2.9) == (1.5, 2.9, "Four five six?")


def test_the_word_that_ends_where_the_window_starts_is_not_included() -> None:
    abutting = transcript_of(
        Word(0.0, 1.0, "Hello."), Word(1.0, 1.5, "World"), Word(1.5, 2.0, "here.")
    )
    assert snap_to_sentences(abutting, 1.2, 1.8).text == "World here."


def test_a_long_pause_ends_a_sentence_without_punctuation() -> None:
    words = [*spoken("so we went home", 0.0), *spoken("and then it rained", 3.0)]
    assert split_sentences(words) == [tuple(words[:4]), tuple(words[4:])]
    assert snap_to_sentences(transcript_of(*words), 3.6, 4.0).text == "and then it rained"


def test_a_short_pause_does_not_end_a_sentence() -> None:
    words = [*spoken("so we went", 0.0), *spoken("home today", 1.6)]  # 0.4 s gap
    assert len(split_sentences(words, pause=0.8)) == 1


def test_closing_quotes_and_brackets_still_end_a_sentence() -> None:
    assert ends_sentence('done."') and ends_sentence("right?)") and ends_sentence("wow!’")
    assert not ends_sentence("Mr") and not ends_sentence("e.g")


def test_a_run_on_sentence_extends_no_more_than_the_bound() -> None:
    run_on = transcript_of(*spoken(" ".join(["word"] * 200) + "."))  # 100 s, one sentence
    start, end, text = snap_to_sentences(run_on, 50.0, 55.0, max_extension=15.0)
    assert 35.0 <= start <= 35.5
    assert 69.5 <= end <= 70.0
    assert len(text.split()) == pytest.approx((end - start) / 0.5, abs=2)


def test_a_window_starting_in_a_pause_drops_the_silence() -> None:
    words = [*spoken("First one.", 0.0), *spoken("Second one.", 5.0)]
    assert snap_to_sentences(transcript_of(*words), 2.0, 5.7) == (5.0, 5.9, "Second one.")


def test_a_window_with_no_speech_comes_back_unchanged_and_empty() -> None:
    words = [*spoken("First one.", 0.0), *spoken("Second one.", 10.0)]
    assert snap_to_sentences(transcript_of(*words), 3.0, 7.0) == (3.0, 7.0, "")
    assert snap_to_sentences(Transcript(), 3.0, 7.0) == (3.0, 7.0, "")


def test_without_words_segments_edges_are_used() -> None:
    cues = Transcript(
        segments=(
            Segment(0.0, 4.0, "First cue."),
            Segment(4.0, 9.0, "Second cue."),
            Segment(9.0, 12.0, "Third cue."),
        )
    )
    assert snap_to_sentences(cues, 5.0, 6.0) == (4.0, 9.0, "Second cue.")
    assert snap_to_sentences(cues, 3.0, 10.0) == (0.0, 12.0, "First cue. Second cue. Third cue.")


def test_a_segment_longer_than_the_bound_keeps_the_window_edge() -> None:
    one_long = Transcript(segments=(Segment(0.0, 300.0, "A whole episode in one cue."),))
    assert snap_to_sentences(one_long, 100.0, 160.0, max_extension=15.0) == (
        100.0,
        160.0,
        "A whole episode in one cue.",
    )


def test_words_spread_over_several_segments_are_read_in_time_order() -> None:
    words = spoken("One two three. Four five six.")
    split = Transcript(
        segments=(Segment(1.5, 2.9, "", tuple(words[3:])), Segment(0.0, 1.4, "", tuple(words[:3])))
    )
    assert snap_to_sentences(split, 1.0, 2.0).text == "One two three. Four five six."


def test_an_inverted_window_is_refused() -> None:
    with pytest.raises(ValueError):
        snap_to_sentences(THREE, 3.0, 1.0)


def test_real_whisper_words_snap_a_mid_sentence_press_to_whole_sentences(
    garden_transcript: Transcript, garden_episode: Episode
) -> None:
    sentences = garden_episode.audio.sentences
    middle = (sentences[2].start + sentences[2].end) / 2
    end = (sentences[4].start + sentences[4].end) / 2
    start, snapped_end, text = snap_to_sentences(garden_transcript, middle, end)
    reference = " ".join(s.text for s in sentences[2:5])
    assert word_error_rate(reference, text) <= 0.15
    assert abs(start - sentences[2].start) < 0.8
    assert abs(snapped_end - sentences[4].end) < 0.8
