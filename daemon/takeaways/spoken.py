"""Spoken sentences made readable: fillers, false starts and repeated words out,
a length limit at a clause, and a short title from a sentence's key clause.

Pure functions over strings: no model.
"""

from __future__ import annotations

import re

# words that carry nothing in a written takeaway ("um", "you know", "I mean")
_FILLERS = re.compile(
    r"(?:,\s*|^|(?<=\s))(?:u+m+|u+h+|e+r+m*|h+m+|mm+|you know|i mean|like|sort of|kind of"
    r"|basically|literally|actually|right)(?=[\s,.!?]|$)[,]?",
    re.IGNORECASE,
)
# "like" is a filler only between commas or at a clause's start: "I like compost" stays
_KEEP_LIKE = re.compile(r"\b(?:i|you|we|they|would|don't|do|did|feel|looks?|just)\s+$", re.I)
# "the the", "we, we went", "in the, in the garden": a word or two said again at once
_REPEATED = (
    re.compile(r"\b([\w']+)(?:[\s,]+\1\b)+", re.IGNORECASE),
    re.compile(r"\b([\w']+[\s,]+[\w']+)(?:[\s,]+\1\b)+", re.IGNORECASE),
)
_CUT_WORD = re.compile(r"\b\w+-\s+")  # "compo- compost": the false start goes
# words a title never starts or ends with
_LEADS = re.compile(
    r"^(?:and|but|so|or|because|well|now|okay|ok|yeah|yes|oh|also|then|basically"
    r"|i think|i guess|i mean|i'd say|the thing is(?: that)?|the point is(?: that)?|you see"
    r"|look|listen|honestly)(?=[\s,]|$)[\s,]*",
    re.IGNORECASE,
)
_CLAUSES = re.compile(r"\s*(?:[,;:—–]|\s-\s|\bbut\b|\bbecause\b|\bwhich\b|\bso\b)\s*", re.I)
TAKEAWAY_CHARS = 220
TITLE_CHARS = 60
_MIN_TITLE_WORDS = 3


def clean(sentence: str) -> str:
    """``sentence`` without fillers, false starts and stammered repeats; the same
    sentence, whole, with a capital and its end mark."""
    text = _CUT_WORD.sub("", sentence)
    text = _FILLERS.sub(lambda m: _filler(m, text), text)
    previous = None
    while previous != text:
        previous = text
        for repeated in _REPEATED:
            text = repeated.sub(r"\1", text)
    text = re.sub(r"\s+([,.!?])", r"\1", re.sub(r"\s+", " ", text))
    text = re.sub(r"(^|[.!?]\s)[,\s]+", r"\1", text).strip(" ,")
    text = re.sub(r",(?=[,.!?])", "", text)
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?…\"'”’" else text + "."


def _filler(match: re.Match[str], text: str) -> str:
    word = match.group(0).strip(", ").lower()
    if word == "like" and _KEEP_LIKE.search(text[: match.start()]):
        return match.group(0)  # "I like it", "it looks like rain": a verb, not a filler
    if word in ("right", "actually", "literally", "basically") and not match.group(0).endswith(","):
        return match.group(0)  # only "right," and "actually," are fillers
    return " " if match.group(0).startswith(",") else ""


def shortened(text: str, limit: int = TAKEAWAY_CHARS) -> str:
    """``text`` within ``limit`` characters: cut after a clause, else at a word."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    cut = max(head.rfind(", "), head.rfind("; "), head.rfind(" — "))
    if cut < limit // 2:
        cut = head.rfind(" ")
    return head[:cut].rstrip(" ,;—") + "…"


def title_from(sentence: str, avoid: str = "", limit: int = TITLE_CHARS) -> str:
    """A short title from the sentence's key clause: the longest clause that fits,
    without leading "and so", "I think", and never ``avoid`` (the episode's title)."""
    plain = clean(sentence).rstrip(".!?…")
    clauses = [_without_leads(c) for c in _CLAUSES.split(plain)]
    substantive = [c for c in clauses if len(c.split()) >= _MIN_TITLE_WORDS]
    title = substantive[0] if substantive else _without_leads(plain)
    if len(title) > limit:
        title = title[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;") + "…"
    title = title[:1].upper() + title[1:]
    if not title or title.casefold() == avoid.strip().casefold():
        return ""
    return title


def _without_leads(clause: str) -> str:
    previous = None
    while previous != clause:  # "and so I think that": each lead in turn
        previous, clause = clause, _LEADS.sub("", clause).strip(" ,.")
    return clause
