"""The takeaways evaluation: its ROUGE-L, the rule that says a takeaway holds a
marked sentence, the baselines, and the evaluation set itself."""

from __future__ import annotations

import json

import pytest

from bench.bench_takeaways import (
    EVAL_SET,
    LeadTwo,
    Longest,
    PressTwo,
    contains,
    evaluate,
    lcs_length,
    load_eval_set,
    rouge_l,
    score,
)
from earmark.takeaways import Sentence, SnipText, Summary


def summary(takeaways: tuple[str, ...], quote: str | None = None) -> Summary:
    return Summary("a title", takeaways, "test", "1", quote=quote)


def test_the_common_subsequence_may_skip_words_on_both_sides() -> None:
    assert lcs_length(list("abcd"), list("axcyd")) == 3


def test_rouge_l_of_a_sentence_against_itself_is_one() -> None:
    assert rouge_l("Fix first, understand later.", "Fix first, understand later.").f1 == 1.0


def test_rouge_l_splits_into_precision_over_the_candidate_and_recall_over_the_reference() -> None:
    got = rouge_l("the cat sat on the mat today", "the cat was on the mat")
    assert (got.precision, got.recall) == (5 / 7, 5 / 6)
    assert got.f1 == pytest.approx(2 * (5 / 7) * (5 / 6) / (5 / 7 + 5 / 6))


def test_rouge_l_ignores_case_punctuation_and_apostrophes() -> None:
    assert rouge_l("IT'S WHAT CHANGED!", "it’s what changed.").f1 == 1.0


def test_rouge_l_of_nothing_in_common_or_an_empty_text_is_zero() -> None:
    assert rouge_l("boiled eggs", "the rent").f1 == 0.0
    assert rouge_l("", "the rent").f1 == 0.0


def test_a_takeaway_with_the_fillers_cleaned_out_still_holds_the_marked_sentence() -> None:
    marked = "So, um, the first question is never what's broken, you know, it's what changed."
    assert contains("The first question is never what's broken, it's what changed.", marked)


def test_a_takeaway_on_the_same_subject_in_other_words_does_not_hold_it() -> None:
    marked = "The first question is never what's broken, it's what changed."
    assert not contains("Most outages are caused by something that was changed.", marked)


def test_a_hit_needs_seven_tenths_of_the_marked_words_in_order() -> None:
    marked = "one two three four five six seven eight nine ten"
    assert contains("one two three four five six seven", marked)
    assert not contains("one two three four five six", marked)
    assert not contains("seven six five four three two one", marked)


def test_no_quote_is_never_a_hit() -> None:
    assert not contains(None, "anything at all")


def test_a_summary_scores_its_takeaways_its_quote_and_its_rouge_separately() -> None:
    marked = ["Rent should be under eight percent of sales."]
    scored = score(
        summary(("Rent should be under eight percent of sales.", "Food matters.")), marked
    )
    assert (scored.takeaway_hit, scored.quote_hit) == (True, False)
    assert 0 < scored.rouge_f1 < 1
    quoted = score(summary(("Food matters.",), quote=marked[0]), marked)
    assert (quoted.takeaway_hit, quoted.quote_hit) == (False, True)


SNIP = SnipText(
    sentences=(
        Sentence("First.", 0.0, 1.0),
        Sentence("Second, the longest sentence of them all by far.", 1.2, 4.0),
        Sentence("Third.", 4.2, 5.0),
        Sentence("Fourth.", 5.2, 6.0),
        Sentence("Fifth, after the press.", 6.2, 8.0),
    ),
    press=6.5,
)


def test_lead_two_takes_the_first_two_sentences_and_quotes_the_first() -> None:
    got = LeadTwo().summarize(SNIP)
    assert (got.takeaways, got.quote) == (
        ("First.", "Second, the longest sentence of them all by far."),
        "First.",
    )


def test_press_two_takes_the_two_sentences_ended_before_the_press_and_quotes_the_nearer() -> None:
    got = PressTwo().summarize(SNIP)
    assert (got.takeaways, got.quote, got.quote_at) == (("Third.", "Fourth."), "Fourth.", 5.2)


# --- the evaluation set ---------------------------------------------------

SNIPS = load_eval_set()
RAW = json.loads(EVAL_SET.read_text(encoding="utf-8"))["snips"]


def test_the_evaluation_set_holds_at_least_forty_snips_with_distinct_ids() -> None:
    assert len(SNIPS) >= 40
    assert len({s.id for s in SNIPS}) == len(SNIPS)


@pytest.mark.parametrize("item", RAW, ids=[item["id"] for item in RAW])
def test_each_snip_is_well_formed(item: dict) -> None:
    sentences = item["sentences"]
    marked = item["marked"]
    assert 1 <= len(marked) <= 2 and len(set(marked)) == len(marked)
    assert all(0 <= i < len(sentences) for i in marked)
    for before, after in zip(sentences, sentences[1:], strict=False):
        assert before["start"] < before["end"] <= after["start"] < after["end"]
    # the press lies in the window or just after its last word
    assert sentences[0]["start"] < item["press"] <= sentences[-1]["end"] + 5
    assert 90 <= sum(len(s["text"].split()) for s in sentences) <= 160
    assert item["episode_title"] and item["episode_description"] and item["kind"]


@pytest.mark.parametrize("snip", SNIPS, ids=[s.id for s in SNIPS])
def test_no_other_sentence_of_a_snip_counts_as_its_marked_sentence(snip) -> None:
    for marked in snip.marked:
        others = [s.text for s in snip.snip.sentences if s.text != marked]
        assert not [o for o in others if contains(o, marked)]


@pytest.mark.parametrize("baseline", [LeadTwo(), PressTwo(), Longest()], ids=lambda b: b.name)
def test_each_baseline_hits_some_snips_but_far_from_all(baseline) -> None:
    share = evaluate(baseline, SNIPS).share("takeaway_hit")
    assert 0.1 <= share <= 0.75
