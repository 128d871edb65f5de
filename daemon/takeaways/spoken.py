"""Spoken sentences made readable: fillers, false starts and repeated words out,
a length limit at a clause, and a short title from a sentence's key clause.

A word is taken out only where it cannot carry meaning: "um" anywhere, but
"like", "you know", "kind of" only when set off by a comma ("it's, like, a
genius"), so "a drawer like that", "you know what" and "what kind of bird" stay
as they were said.

Pure functions over strings: no model.
"""

from __future__ import annotations

import re

# hesitation sounds: fillers wherever they are
_SOUNDS = r"u+m+|u+h+|e+r+m*|h+m+|m{2,}"
# fillers only when a comma follows them ("Like, full sentences", "it's, you know,
# full of cracks"); without one they are words ("a drawer like that", "you know what")
_SET_OFF = r"like|you know|sort of|kind of|actually|literally|basically|right"
# fillers closing a sentence too ("they're mostly newsletters, you know.")
_TAGS = r"you know"
# fillers at a clause's start only ("I mean, I get it", but "not what I mean")
_OPENERS = r"i mean"
_FILLERS = re.compile(
    rf"(?P<before>^|,\s*|\s)(?:(?P<sound>{_SOUNDS})(?=[\s,.!?…]|$)"
    rf"|(?P<set_off>{_SET_OFF})(?=,)|(?P<tag>{_TAGS})(?=[.!?…]|$)"
    rf"|(?P<opener>{_OPENERS})(?=[\s,.!?…]|$)),?",
    re.IGNORECASE,
)
# words that make the next one a real word: "I like, well, most of it", "do you know,"
_KEEPS = {
    "like": re.compile(
        r"\b(?:i|you|we|they|would|'d|don't|do|did|feel|feels|looks?|smells?|sounds?|just)\s*$",
        re.IGNORECASE,
    ),
    "you know": re.compile(r"\b(?:do|did|don't|didn't|if|as)\s*$", re.IGNORECASE),
    "right": re.compile(r"\S\s*$"),  # "Right, so" opens a clause; "you're right, it is"
}
# "the the", "we, we went", "in the, in the garden": a word or two said again at once
_REPEATED = (
    re.compile(r"\b([\w']{2,}|[ai])(?:[\s,]+\1\b)+", re.IGNORECASE),
    re.compile(r"\b([\w']+[\s,]+[\w']+)(?:[\s,]+\1\b)+", re.IGNORECASE),
)
# what is not speech: markup tags, cues like [music] or (laughs), emphasis marks, emoji
_NOT_SPOKEN = re.compile(
    r"<[^<>]*>|\[[^\[\]]*\]|\((?:laughs?|laughter|music|applause|inaudible|crosstalk)\)"
    r"|\*+|_{2,}|`+|[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F\u200D]",
    re.IGNORECASE,
)
_CUT_WORD = re.compile(r"\b\w+-\s+")  # "compo- compost": the false start goes
# words a title never starts or ends with
_LEADS = re.compile(
    r"^(?:and|but|so|or|because|well|now|okay|ok|yeah|yes|no|oh|ha|wow|also|then|basically"
    r"|i think|i guess|i mean|i'd say|the thing is(?: that)?|the point is(?: that)?"
    r"|you see|look|listen|honestly|to be fair|right|anyway|sorry)(?=[\s,]|$)[\s,]*",
    re.IGNORECASE,
)
_CLAUSES = re.compile(r"\s*(?:[,;:—–]|\s-\s)\s*")
_JOINS = re.compile(r"\s+(?:because|but)\s+", re.I)
# ", which is the hormone that…,": a clause inside a clause, left out of a title
_INSERTED = re.compile(r",\s*(?:which|who|whom|whose)\b[^,.!?]*,(?=\s*\w)", re.I)
# a clause that leans on another ("when districts moved the bell"): a title's last resort
_LEANING = re.compile(
    r"^(?:when|if|because|although|though|while|which|who|that|as|since|unless|whether|where)\b",
    re.I,
)
# words that say little on their own: a title is the clause with the most of the others
_LITTLE = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "but",
        "or",
        "so",
        "if",
        "then",
        "than",
        "that",
        "this",
        "these",
        "those",
        "there",
        "here",
        "it",
        "its",
        "it's",
        "i",
        "i'm",
        "i've",
        "i'd",
        "me",
        "my",
        "we",
        "we're",
        "our",
        "you",
        "you're",
        "your",
        "he",
        "she",
        "they",
        "them",
        "their",
        "his",
        "her",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "will",
        "would",
        "can",
        "could",
        "should",
        "must",
        "may",
        "might",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "about",
        "as",
        "into",
        "out",
        "up",
        "down",
        "just",
        "really",
        "very",
        "not",
        "no",
        "yes",
        "all",
        "some",
        "any",
        "what",
        "which",
        "who",
        "how",
        "when",
        "where",
        "why",
        "one",
        "thing",
        "things",
        "get",
        "got",
        "go",
        "going",
        "like",
        "know",
        "think",
        "mean",
        "say",
        "said",
        "well",
        "okay",
        "oh",
    ]
)
TAKEAWAY_CHARS = 220
TITLE_CHARS = 60
_MIN_TITLE_WORDS = 3


def clean(sentence: str) -> str:
    """``sentence`` without fillers, false starts, stammered repeats and what is not
    speech (markup, emoji); the same sentence, whole, with a capital and its end
    mark, or "" when no word is left."""
    text = _CUT_WORD.sub("", _NOT_SPOKEN.sub(" ", sentence))
    text = _FILLERS.sub(lambda m: _filler(m, text), text)
    previous = None
    while previous != text:
        previous = text
        for repeated in _REPEATED:
            text = repeated.sub(r"\1", text)
    text = re.sub(r"\s+([,.!?…])", r"\1", re.sub(r"\s+", " ", text))
    text = re.sub(r"(^|[.!?]\s)[,\s]+", r"\1", text).strip(" ,")
    text = re.sub(r",(?=[,.!?…])", "", text)
    if not re.search(r"\w", text):
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?…\"'”’" else text + "."


def _filler(match: re.Match[str], text: str) -> str:
    word = (match.group("set_off") or match.group("tag") or match.group("opener") or "").lower()
    said_before = text[: match.start(match.lastgroup or 0)]
    if word in _KEEPS and _KEEPS[word].search(said_before):
        return match.group(0)  # "it looks like, well", "do you know,": real words
    if match.group("opener") and not (match.group("before") or ",").strip():
        return match.group(0)  # "and I mean it": not at a clause's start
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
    """A short title from the sentence: the whole of it when it fits, else its key
    clause (one that stands alone, saying the most: the most words beyond "the",
    "it", "was"), without leading "and so", "I think"; never ``avoid`` (the
    episode's title), and "" when the sentence has no clause of a few words."""
    plain = _without_leads(_INSERTED.sub("", clean(sentence)).rstrip(".!?…"))
    clauses = [_without_leads(c) for c in _CLAUSES.split(plain)]
    # a clause too long for a title gives its parts too: "…, because one young guy…"
    clauses += [
        _without_leads(part) for c in clauses if len(c) > limit for part in _JOINS.split(c)[1:]
    ]
    clauses = sorted(
        (c for c in clauses if len(c.split()) >= _MIN_TITLE_WORDS),
        key=lambda c: (_says(c) >= 2 and not _LEANING.match(c), _says(c)),
        reverse=True,
    )
    whole = [plain] if len(plain) <= limit and len(plain.split()) >= _MIN_TITLE_WORDS else []
    for title in [*whole, *clauses]:
        if len(title) > limit:
            title = title[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;") + "…"
        title = title[:1].upper() + title[1:]
        if _words(title) and not _words(title) <= _words(avoid):
            return title
    return ""


def _says(clause: str) -> int:
    return sum(w not in _LITTLE for w in re.findall(r"[\w']+", clause.lower()))


def _words(text: str) -> set[str]:
    return set(re.findall(r"[\w']+", text.lower()))


def _without_leads(clause: str) -> str:
    previous = None
    while previous != clause:  # "and so I think that": each lead in turn
        previous, clause = clause, _LEADS.sub("", clause).strip(" ,.")
    return clause
