"""The on-device summarizer's cost, against one embedding call in the same run.

Time: summarizing a 60 s snip (the evaluation set's snips, ~150 words in ~10
sentences) against one call of the same embedder over the same sentences —
the least any embedding summarizer must do. Rounds alternate the two; the ratio
is of medians.

Memory: the peak RSS a process adds by loading the model and summarizing,
measured in a fresh process against its own peak just before (numpy, which the
daemon has loaded anyway for faster-whisper, already imported).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import Figure
from earmark.takeaways.base import Sentence, SnipText
from earmark.takeaways.minilm import MiniLmSummarizer
from earmark.takeaways.spoken import clean

EVAL_SET = Path(__file__).parent.parent / "tests" / "data" / "takeaways_eval.json"
ROUNDS = 5

_MEMORY = """
import re, sys
import numpy
from earmark.takeaways.base import SnipText

def status(key):
    # VmHWM, not ru_maxrss: that one keeps the parent's peak across fork and exec
    return int(re.search(key + r":\\s+(\\d+)", open("/proc/self/status").read()).group(1)) / 1024

def peak():
    return status("VmHWM")

def resident():
    return status("VmRSS")

peak_before, resident_before = peak(), resident()
from earmark.takeaways.minilm import MiniLmSummarizer
summarizer = MiniLmSummarizer()
for text in sys.argv[1:]:
    summarizer.summarize(SnipText.from_text(text, 0.0, 60.0))
print(peak() - peak_before, resident() - resident_before)
"""


def _snips() -> list[SnipText]:
    items = json.loads(EVAL_SET.read_text())["snips"]
    return [
        SnipText(
            tuple(Sentence(s["text"], s["start"], s["end"]) for s in item["sentences"]),
            item["press"],
            item.get("episode_title", ""),
            item.get("episode_description", ""),
            item.get("chapter", ""),
        )
        for item in items
    ]


def run() -> list[Figure]:
    snips = _snips()
    summarizer = MiniLmSummarizer()
    embedder = summarizer.embedder
    summarizer.summarize(snips[0])  # the first call pays for loading
    whole, bare = [], []
    for _ in range(ROUNDS):
        for snip in snips:
            started = time.perf_counter()
            summarizer.summarize(snip)
            whole.append(time.perf_counter() - started)
            texts = [clean(s.text) for s in snip.sentences]
            started = time.perf_counter()
            embedder.embed(texts)
            bare.append(time.perf_counter() - started)
    texts = [snip.transcript for snip in snips[:10]]
    measured = subprocess.run(
        [sys.executable, "-c", _MEMORY, *texts], capture_output=True, text=True, check=True
    )
    added_peak, added_resident = (float(x) for x in measured.stdout.split())
    words = statistics.mean(len(s.transcript.split()) for s in snips)
    return [
        Figure(
            "summarizer: a 60 s snip / one embedding call",
            statistics.median(whole) / statistics.median(bare),
            target="<= 1.5",
            detail=f"{statistics.median(whole) * 1000:.1f} ms vs "
            f"{statistics.median(bare) * 1000:.1f} ms, {len(snips)} snips of ~{words:.0f} words",
        ),
        Figure(
            "summarizer: added peak RSS (model loaded, 10 snips)",
            added_peak,
            unit="MB",
            target="<= 60",
            detail="a fresh process, against its peak with numpy loaded",
        ),
        Figure(
            "summarizer: added resident memory after them",
            added_resident,
            unit="MB",
            detail="what the daemon keeps while it runs",
        ),
    ]
