"""The on-device summarizer on small hand-made snips, with the real pinned
all-MiniLM-L6-v2 model: the quote is the point heard just before the press,
fragments, doubted sentences, ads and chat stay out, the title is short and the
snip's own; bad input gives a sensible summary. And the filler cleaning keeps
the words that carry meaning."""

from __future__ import annotations

import random
import re

import pytest

from earmark.takeaways.base import MAX_TAKEAWAYS, Sentence, SnipText, Summary
from earmark.takeaways.minilm import MiniLmSummarizer
from earmark.takeaways.spoken import TAKEAWAY_CHARS, TITLE_CHARS, clean, title_from

SECONDS_EACH = 5.0
POINT = (
    "A compost pile needs air as much as it needs scraps, so you turn it every week "
    "or the middle goes slimy and starts to smell."
)
TALK = (
    "Okay, so the question this week is about compost.",
    "Lots of you wrote in saying your pile smells bad and nothing breaks down.",
    "The scraps are rarely the problem, it is almost always the air.",
    POINT,
)


@pytest.fixture(scope="module")
def summarizer() -> MiniLmSummarizer:
    return MiniLmSummarizer()


def spoken(*lines: str | Sentence, press_after: int | None = None, **context: str) -> SnipText:
    """A snip of ``lines`` said one after another, SECONDS_EACH apiece; the press
    comes a second after line number ``press_after`` ends (default: the last)."""
    sentences = []
    for i, line in enumerate(lines):
        start = i * SECONDS_EACH
        if isinstance(line, Sentence):
            sentences.append(Sentence(line.text, start, start + SECONDS_EACH - 0.5, line.doubted))
        else:
            sentences.append(Sentence(line, start, start + SECONDS_EACH - 0.5))
    pressed = len(lines) - 1 if press_after is None else press_after
    return SnipText(tuple(sentences), sentences[pressed].end + 1.0, **context)


def everything_said(summary: Summary) -> str:
    return " ".join([summary.title, summary.quote or "", *summary.takeaways])


def test_the_quote_is_the_point_just_before_the_press_not_a_later_ad_or_chat(
    summarizer: MiniLmSummarizer,
) -> None:
    snip = spoken(
        *TALK,
        "Ha, yeah.",
        "This episode is supported by Greenbox, use code COMPOST for ten percent off.",
        press_after=3,
    )
    summary = summarizer.summarize(snip)
    assert summary.quote == POINT
    assert summary.quote_at == snip.sentences[3].start
    assert "Greenbox" not in everything_said(summary)


def test_back_channel_chat_at_the_press_is_not_the_quote(summarizer: MiniLmSummarizer) -> None:
    summary = summarizer.summarize(spoken(*TALK, "Wow.", "Yeah, right, ha.", "Sam would hate it."))
    assert summary.quote == POINT
    assert not {"Wow.", "Yeah, right, ha.", "Sam would hate it."} & set(summary.takeaways)


def test_the_ad_around_the_press_is_marked_down_while_the_point_before_it_is_not(
    summarizer: MiniLmSummarizer,
) -> None:
    summary = summarizer.summarize(
        spoken(
            *TALK,
            "And we'll get into bins right after this.",
            "This episode is brought to you by Greenbox, fresh ingredients at your door.",
        )
    )
    assert summary.quote == POINT
    assert not any("Greenbox" in t for t in summary.takeaways)


def test_a_snip_that_is_the_ad_keeps_the_ad(summarizer: MiniLmSummarizer) -> None:
    offer = "Listeners get the first three months free with the code COMPOST at greenbox dot com."
    summary = summarizer.summarize(
        spoken(
            "This episode is brought to you by Greenbox, the meal kit I use every week.",
            "Greenbox delivers fresh, pre-portioned ingredients right to your door.",
            offer,
            "That's C O M P O S T, at greenbox dot com.",
        )
    )
    assert summary.quote == offer
    assert all("greenbox" in t.lower() for t in summary.takeaways)


@pytest.mark.parametrize(
    "last",
    [
        "And the other thing about worms is that they",  # no end mark: cut by the window
        "And the other thing about worms is that they eat the cardboard first.",
    ],
)
def test_a_last_sentence_running_past_the_press_is_never_quote_or_takeaway(
    summarizer: MiniLmSummarizer, last: str
) -> None:
    summary = summarizer.summarize(spoken(*TALK, last, press_after=3))
    assert "worms" not in everything_said(summary)


def test_a_last_sentence_without_an_end_mark_is_never_a_takeaway(
    summarizer: MiniLmSummarizer,
) -> None:
    cut = "Turning the pile every single week is what keeps the compost pile working well and"
    summary = summarizer.summarize(spoken(*TALK, cut))
    assert summary.quote != cut
    assert not any("keeps the compost pile working" in t for t in summary.takeaways)


def test_a_doubted_sentence_never_appears(summarizer: MiniLmSummarizer) -> None:
    doubted = Sentence(
        "Compost piles need air every week or they turn slimy and smell.", 0, 0, True
    )
    summary = summarizer.summarize(spoken(*TALK[:3], doubted))
    assert "slimy" not in everything_said(summary)
    assert summary.quote in TALK


def test_the_title_is_the_snips_own_never_the_episode_title(
    summarizer: MiniLmSummarizer,
) -> None:
    episode = "Your compost pile needs air"
    summary = summarizer.summarize(
        spoken(*TALK[:3], "Your compost pile needs air.", episode_title=episode)
    )
    assert summary.title.casefold() != episode.casefold()
    assert 0 < len(summary.title) <= TITLE_CHARS


def test_the_title_comes_from_the_quote_not_from_chat(summarizer: MiniLmSummarizer) -> None:
    summary = summarizer.summarize(spoken(*TALK, "Ha, to be fair, I ruin things for a living."))
    assert summary.quote == POINT
    assert len(summary.title) <= TITLE_CHARS
    assert summary.title.casefold().rstrip("…").split()[:3] != ["to", "be", "fair"]
    assert set(re.findall(r"\w+", summary.title.lower())) <= set(re.findall(r"\w+", POINT.lower()))


def test_takeaways_are_in_spoken_order(summarizer: MiniLmSummarizer) -> None:
    snip = spoken(*TALK)
    summary = summarizer.summarize(snip)
    cleaned = [clean(s.text) for s in snip.sentences]
    places = [cleaned.index(t) for t in summary.takeaways]
    assert 1 <= len(places) <= MAX_TAKEAWAYS and places == sorted(places)


# --- bad input ----------------------------------------------------------------


def test_an_empty_snip_has_no_takeaways_and_says_so(summarizer: MiniLmSummarizer) -> None:
    summary = summarizer.summarize(SnipText((), 0.0))
    assert (summary.title, summary.takeaways, summary.quote) == ("(no speech)", (), None)


def test_one_word_is_its_own_title(summarizer: MiniLmSummarizer) -> None:
    summary = summarizer.summarize(SnipText.from_text("Compost"))
    assert summary.title == "Compost"
    assert summary.takeaways in ((), ("Compost.",))


def test_only_filler_gives_no_takeaways(summarizer: MiniLmSummarizer) -> None:
    summary = summarizer.summarize(SnipText.from_text("Um, uh, you know. Like, um, hmm."))
    assert summary.takeaways == () and summary.quote is None
    assert summary.title == "(only filler words)"


@pytest.mark.parametrize("end_marks", [True, False])
def test_ten_thousand_words_give_a_short_summary(
    summarizer: MiniLmSummarizer, end_marks: bool
) -> None:
    pick = random.Random(7).choice
    vocabulary = ["the", "pile", "needs", "air", "brown", "leaves", "and", "green", "scraps", "rot"]
    words = [pick(vocabulary) for _ in range(10_000)]
    if end_marks:
        words = [w + "." if i % 12 == 11 else w for i, w in enumerate(words)]
    summary = summarizer.summarize(SnipText.from_text(" ".join(words)))
    assert 1 <= len(summary.takeaways) <= MAX_TAKEAWAYS
    assert all(len(t) <= TAKEAWAY_CHARS for t in summary.takeaways)
    assert 0 < len(summary.title) <= TITLE_CHARS


def test_markup_and_emoji_stay_out_of_title_and_takeaways(summarizer: MiniLmSummarizer) -> None:
    summary = summarizer.summarize(
        SnipText.from_text(
            "<b>Compost</b> is **magic** 🌱🌱! [music] "
            "Turn the pile every week so the microbes in the middle can breathe 😀."
        )
    )
    written = " ".join([summary.title, *summary.takeaways])
    assert "microbes" in written
    assert not re.search(r"[<>\[\]*🌱😀]", written)


def test_another_language_does_not_crash(summarizer: MiniLmSummarizer) -> None:
    summary = summarizer.summarize(
        SnipText.from_text("Le compost a besoin d'air. Il faut le retourner chaque semaine.")
    )
    assert summary.takeaways and len(summary.title) <= TITLE_CHARS


# --- cleaning -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("said", "written"),
    [
        ("Every big company has a drawer like that.", "Every big company has a drawer like that."),
        ("It smells like beer.", "It smells like beer."),
        ("That's way less than the salty like the sea thing.", None),
        ("Like, full sentences, not gasping.", "Full sentences, not gasping."),
        ("She is, like, a genius with kids.", "She is a genius with kids."),
    ],
)
def test_like_goes_only_as_a_filler(said: str, written: str | None) -> None:
    assert clean(said) == (written or said)


def test_you_know_what_keeps_its_meaning() -> None:
    said = "Honestly, you know what, that should be the name of the show."
    assert clean(said) == said


def test_you_know_between_commas_goes() -> None:
    assert clean("A crust isn't waterproof, it's, you know, full of cracks.") == (
        "A crust isn't waterproof, it's full of cracks."
    )


@pytest.mark.parametrize(
    "said", ["What kind of bird is that?", "That's right, he said so.", "Do you know, I never did."]
)
def test_words_that_only_look_like_fillers_stay(said: str) -> None:
    assert clean(said) == said


def test_hesitations_and_stammers_go() -> None:
    assert clean("So, um, the, the pile needs, uh, air.") == "So the pile needs air."


def test_a_spelled_out_code_keeps_its_letters() -> None:
    assert clean("That's P U R R, at fieldnote dot app.") == "That's P U R R, at fieldnote dot app."


def test_a_title_skips_a_hedge_for_the_clause_that_says_something() -> None:
    title = title_from(
        "Which, to be fair, every big company has a drawer like that, a drawer full of the "
        "things that would have eaten their own lunch."
    )
    assert len(title) <= TITLE_CHARS and "to be fair" not in title.lower()
    assert "drawer" in title
