"""The extractive summarizer: the title opens the first sentence, the takeaways
are the most substantial sentences in the order they were spoken."""

from __future__ import annotations

import pytest

from earmark.takeaways import ExtractiveSummarizer, SnipText, Summary

TALK = (
    "Sleep is a skill. "
    "Most adults who sleep badly have trained their brain to stay awake in bed. "
    "Get up. "
    "If you cannot sleep after twenty minutes, leave the bedroom and read somewhere dim. "
    "Go back only when you feel sleepy, and keep the same wake time every single day."
)


def summarize(
    text: str, low_confidence: tuple[str, ...] | list[str] = (), **options: int
) -> Summary:
    snip = SnipText.from_text(text, low_confidence=low_confidence)
    return ExtractiveSummarizer(**options).summarize(snip)


def test_the_title_is_the_first_sentence_without_its_full_stop() -> None:
    assert summarize(TALK).title == "Sleep is a skill"


def test_a_long_first_sentence_is_cut_at_a_word_with_an_ellipsis() -> None:
    spoken = "The long history of how people measured time before clocks were common. Yes."
    title = summarize(spoken, title_chars=30).title
    assert title == "The long history of how…"


def test_the_takeaways_are_the_three_longest_sentences_in_spoken_order() -> None:
    summary = summarize(TALK)
    assert summary.takeaways == (
        "Most adults who sleep badly have trained their brain to stay awake in bed.",
        "If you cannot sleep after twenty minutes, leave the bedroom and read somewhere dim.",
        "Go back only when you feel sleepy, and keep the same wake time every single day.",
    )


def test_a_short_moment_gives_as_many_takeaways_as_it_has_sentences() -> None:
    summary = summarize("Start small. Then keep going!")
    assert summary.takeaways == ("Start small.", "Then keep going!")


def test_no_speech_gives_a_placeholder_title_and_no_takeaways() -> None:
    summary = summarize("  \n ")
    assert (summary.title, summary.takeaways) == ("(no speech)", ())


def test_the_summary_names_its_backend_and_version_and_no_fallback() -> None:
    summary = summarize(TALK)
    assert (summary.backend, summary.backend_version) == ("extractive", "1")
    assert summary.fallback_reason is None
    assert summary.quote is None  # the extractive backend picks no quote yet


def test_the_summarizer_refuses_to_be_set_to_more_than_three_takeaways() -> None:
    with pytest.raises(ValueError, match="max_takeaways must be 1 to 3, got 4"):
        ExtractiveSummarizer(max_takeaways=4)


def test_a_summary_refuses_more_than_three_takeaways() -> None:
    with pytest.raises(ValueError, match="4 takeaways; a summary has at most 3"):
        Summary(title="t", takeaways=("a", "b", "c", "d"), backend="x", backend_version="1")


def test_a_sentence_said_twice_is_one_takeaway() -> None:
    looped = "We should rest more. " * 4 + "Fine. Sleep is the cheapest medicine there is."
    summary = summarize(looped)
    assert summary.takeaways == (
        "We should rest more.",
        "Fine.",
        "Sleep is the cheapest medicine there is.",
    )


def test_a_low_confidence_passage_is_never_a_takeaway_nor_the_title() -> None:
    invented = "Most adults who sleep badly have trained their brain to stay awake in bed."
    summary = summarize("Open the heat. " + TALK, low_confidence=["Open the heat.", invented])
    assert summary.title == "Sleep is a skill"
    assert invented not in summary.takeaways
    assert all("heat" not in t for t in summary.takeaways)
    assert summary.takeaways  # the confident sentences still make takeaways


def test_a_low_confidence_run_spoils_every_sentence_it_touches() -> None:
    summary = summarize(
        "We planted beans in April. They grew fast. Then the rain came.",
        low_confidence=["April. They grew"],
    )
    assert summary.takeaways == ("Then the rain came.",)


def test_a_transcript_heard_with_no_confidence_makes_no_takeaways() -> None:
    summary = summarize("Open the heat.", low_confidence=["Open the heat."])
    assert summary.takeaways == ()
    assert "heat" not in summary.title
