"""The dashboard in a real browser (Playwright + Debian's Chromium), with 20 000
highlights stored, against the same browser doing the same work in the same run.

Load and search: navigation start to the load event (Navigation Timing) of ``/``
and of ``/?q=<word>`` for 20 words of every frequency, against the very bytes
that run received (same HTML, same CSP headers, the same /static files and an
open event stream) served by a plain ``http.server`` on loopback, the two
alternating on one page so drift hits both alike.

Publish -> visible: a highlight published on the broker until the frame after
its card entered the page's DOM (a MutationObserver's clock, synced to ours; the
DOM time alone in the detail), against a bare paho subscriber receiving that
same publish. The presses come as a listener makes them: 8 in one new episode.

Opening a card's transcript: a card's transcript is fetched when its <details>
opens; from opening it (as a click does) until its words are in the DOM, for
the first 20 cards of ``/``.

Memory: the dashboard process's VmRSS once the loads and searches have run,
against its own VmRSS when it first answered.

The store is filled before the dashboard starts, through ``Mirror.apply()`` (what
the ingest calls for every highlight the broker delivers).
"""

from __future__ import annotations

import http.server
import itertools
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import paho.mqtt.client as mqtt
import yaml

from bench import Figure
from earmark.dashboard import store as dashboard_store
from earmark.dashboard.security import HEADERS
from earmark.dashboard.store import Mirror
from earmark.payloads import HighlightPayload
from earmark.sync.broker import LocalBroker, free_port
from tests.dashboard.conftest import CHROMIUM, CHROMIUM_FLAGS  # as the tests launch it

HIGHLIGHTS = 20_000
LOADS = 20
SEARCHES = 20
PUBLISHES = 30
OPENS = 20
WARMUP = 2
SESSION = 8  # presses in one episode, as a listener makes them
SPEAKERS = ("kitchen", "bedroom", "car")
STATIC = Path(dashboard_store.__file__).parent  # its static/ is what /static serves


def _words(text: str) -> list[str]:
    return text.split()


FUNCTION = _words(
    "the a and of to in that it is was for on with as but they you we this have be at so"
    " not about what there or if just like really one when then because all more can"
    " would your our their just very into how up out"
)
GENERAL = _words(
    "people time year work world life thing family story idea question answer problem"
    " money house water music book history science children morning evening reason"
    " moment change power market city country village river mountain garden kitchen"
    " friend teacher doctor student memory habit choice mistake lesson practice"
    " attention energy pressure balance rhythm pattern signal noise silence voice"
    " listen remember forget believe explain discover build break measure compare"
    " borrow carry follow notice imagine decide improve repair protect share trust"
    " simple hard slow quick early late small huge quiet loud fresh old modern ancient"
    " honest careful curious patient strange obvious useful difficult important"
    " season winter summer spring autumn weekend decade century evidence experiment"
    " theory method result surprise detail example chapter interview argument debate"
    " network system process engine machine tool software data model signal recipe"
)
TOPICS = {
    "gardening": "compost soil seed tomato mulch prune root worm bean harvest frost"
    " greenhouse nitrogen seedling squash",
    "baking": "dough yeast crust flour oven starter loaf rye proof knead crumb butter"
    " sourdough hydration steam",
    "history": "empire treaty revolution archive monarch siege dynasty parliament"
    " colony manuscript pilgrim plague castle merchant",
    "astronomy": "galaxy telescope orbit comet nebula planet eclipse supernova quasar"
    " spectrum asteroid gravity moon photon",
    "economics": "inflation interest tariff labour wage bond deficit recession"
    " productivity currency pension subsidy auction monopoly",
    "running": "marathon stride tempo cadence interval recovery shoe trail hill"
    " mileage injury taper sprint endurance",
    "cooking": "braise saffron umami stock roast simmer ferment garlic ginger pepper"
    " vinegar caramel skillet broth",
    "technology": "compiler kernel database browser server encryption protocol"
    " latency cache algorithm startup chip battery sensor",
    "psychology": "anxiety motivation bias emotion dopamine sleep therapy empathy"
    " willpower procrastination trauma resilience attachment identity",
    "music": "melody chord harmony guitar violin orchestra album lyric tempo drummer"
    " jazz symphony vinyl choir",
    "climate": "carbon glacier drought wildfire methane emission turbine solar"
    " coastline monsoon permafrost heatwave aquifer reef",
    "philosophy": "virtue stoic ethics freedom consciousness paradox justice"
    " socrates meaning reason duty truth beauty wisdom",
}
SHOWS = (
    "The {} Hour",
    "Slow {}",
    "{} Weekly",
    "Deep {}",
    "Notes on {}",
)


SYLLABLES = _words("ka lo mi ra ten vo bel sar din qu es tor ham pi nel ost ru wen fa gid")
# the long tail: names and rare words, each in a few dozen highlights at most
RARE = sorted({"".join(random.Random(n).sample(SYLLABLES, 3)) for n in range(3000)})


def _cumulative(count: int, share: float) -> list[float]:
    """Flattened Zipf weights for ``count`` words adding up to ``share``."""
    weights = [1 / (rank + 3) ** 0.8 for rank in range(count)]
    total = sum(weights)
    return [w * share / total for w in weights]


class Speech:
    """Sentences in one podcast's voice: function words, general words, the
    podcast's topic words and, now and then, a rare word or a name."""

    def __init__(self, topic: list[str]) -> None:
        self.words = FUNCTION + GENERAL + topic + RARE
        weights = (
            [0.45 / len(FUNCTION)] * len(FUNCTION)
            + _cumulative(len(GENERAL), 0.35)
            + _cumulative(len(topic), 0.17)
            + [0.03 / len(RARE)] * len(RARE)
        )
        self.cumulative = list(itertools.accumulate(weights))
        self.topic = topic

    def sentence(self, rng: random.Random, length: int) -> str:
        text = " ".join(rng.choices(self.words, cum_weights=self.cumulative, k=length))
        return text[0].upper() + text[1:] + "."

    def title(self, rng: random.Random) -> str:
        picks = rng.choices(self.topic + GENERAL[:40], k=rng.randint(3, 6))
        return " ".join(picks).capitalize()


def _highlights() -> tuple[list[HighlightPayload], dict[str, int]]:
    """20 000 done highlights over 60 podcasts and 1 200 episodes, and each content
    word's document frequency (how many highlights a search for it finds)."""
    rng = random.Random(20_000)
    podcasts = []
    for topic, words in TOPICS.items():
        speech = Speech(words.split())
        for shape in SHOWS:
            podcasts.append((shape.format(topic.title()), speech))
    episodes = []
    for podcast, speech in podcasts:
        for n in range(1, 21):
            title = f"{n}. {' and '.join(rng.sample(speech.topic, 2)).capitalize()}"
            episodes.append((podcast, title, speech, rng.randrange(1, 10**6)))
    now = datetime.now(UTC)
    frequency: dict[str, int] = {}
    out = []
    for _ in range(HIGHLIGHTS):
        podcast, episode, speech, episode_id = rng.choice(episodes)
        sentences = [speech.sentence(rng, rng.randint(9, 14)) for _ in range(5)]
        transcript = " ".join(sentences)
        for word in {w.strip(".").lower() for w in transcript.split()}:
            frequency[word] = frequency.get(word, 0) + 1
        pressed = now - timedelta(seconds=rng.uniform(0, 400 * 86400))
        stamp = pressed.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        start = rng.uniform(30, 3000)
        out.append(
            HighlightPayload(
                id=f"{rng.getrandbits(128):032x}",
                version=4,
                status="done",
                device_id=rng.choice(SPEAKERS),
                pressed_at=stamp,
                updated_at=stamp,
                input_source=rng.choice(("button", "button", "voice", "cli")),
                podcast=podcast,
                episode=episode,
                source_url=f"https://feeds.example.org/{episode_id}.mp3",
                press_position=start + 45,
                start=start,
                end=start + 60,
                transcript=transcript,
                transcript_source="whisper",
                title=speech.title(rng),
                takeaways=[speech.sentence(rng, rng.randint(7, 12)) for _ in range(3)],
                clip_seconds=60.0,
                quote=rng.choice(sentences),
                note=speech.sentence(rng, 8) if rng.random() < 0.1 else "",
                starred=rng.random() < 0.05,
                tags=rng.sample(speech.topic, 2) if rng.random() < 0.2 else [],
                summarizer="minilm 1",
                episode_id=episode_id,
            )
        )
    return out, frequency


def _search_words(frequency: dict[str, int]) -> list[str]:
    """30 different words, from the rarest to the most common, their frequencies
    spaced evenly on a log scale (function words aside: nobody searches for "the")."""
    left = {w: n for w, n in frequency.items() if w not in FUNCTION}
    low, high = min(left.values()), max(left.values())
    picks = []
    for i in range(SEARCHES):
        target = low * (high / low) ** (i / (SEARCHES - 1))
        word = min(left, key=lambda w: (abs(math.log(left[w] / target)), w))
        picks.append(word)
        del left[word]
    return picks


def _fill(path: Path, highlights: list[HighlightPayload]) -> float:
    mirror = Mirror(path)
    began = time.perf_counter()
    try:
        for h in highlights:
            mirror.apply(h)
        for device in SPEAKERS:
            mirror.set_online(device, True)
    finally:
        mirror.close()
    return time.perf_counter() - began


# -- the dashboard process ---------------------------------------------------------


class Dashboard:
    """``earmark dashboard`` as the listener runs it, on the bench's mosquitto."""

    def __init__(self, work: Path, broker_port: int, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        config = work / "dashboard.yaml"
        settings = {
            "device_id": "benchbox",
            "data_dir": str(work / "speaker"),
            "control_socket": str(work / "earmark.sock"),
            "log_level": "info",
            "mqtt": {"host": "127.0.0.1", "port": broker_port},
            "dashboard": {"port": self.port, "data_dir": str(data_dir)},
        }
        config.write_text(yaml.safe_dump(settings))
        self.log_path = work / "dashboard.log"
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "earmark", "-c", str(config), "dashboard"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + 60
        while not (self._answers() and "connected to the broker" in self.log):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard did not come up:\n{self.log[-3000:]}")
            time.sleep(0.1)

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"the dashboard exited:\n{self.log[-3000:]}")
        try:
            with urllib.request.urlopen(self.url + "static/style.css", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def memory(self) -> dict[str, float]:
        """VmRSS and VmHWM in MB."""
        found = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0]) / 1024
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


# -- the baseline: the same bytes from a plain http.server ----------------------------


class StaticSite:
    """Serves, at every page path, the bytes last given to :meth:`show` (with the
    dashboard's security headers), the dashboard's own static files at /static, and
    an event stream at /events that sends one banner and stays open, as the
    dashboard's does."""

    BANNER = (
        b'data: <hx-partial hx-target="#broker" hx-swap="outerHTML"><div id="broker"'
        b' role="status" aria-live="polite" class="banner ok"></div></hx-partial>\n\n'
    )

    def __init__(self) -> None:
        self.page = b""
        self.stopping = threading.Event()
        site = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=str(STATIC), **kwargs)

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.startswith("/static/"):
                    super().do_GET()
                elif self.path.startswith("/events"):
                    self._events()
                else:
                    body = site.page
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in HEADERS.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)

            def _events(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                try:
                    self.wfile.write(site.BANNER)
                    self.wfile.flush()
                    while not site.stopping.wait(1.0):
                        self.wfile.write(b": ping\n\n")
                        self.wfile.flush()
                except OSError:
                    pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def show(self, body: bytes) -> None:
        self.page = body

    def close(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


# -- in the browser ----------------------------------------------------------------

TIMING = """() => {
  const e = performance.getEntriesByType('navigation')[0];
  return {load: e.loadEventEnd, ttfb: e.responseStart, bytes: e.decodedBodySize,
          cards: document.querySelectorAll('article.highlight').length};
}"""
LOADED = "() => performance.getEntriesByType('navigation')[0]?.loadEventEnd > 0"
# each card's first time in the DOM, and when the frame after it was produced
SEEN = "(card) => window.__painted[card] !== undefined"
OBSERVE = """() => {
  window.__seen = {};
  window.__painted = {};
  const clock = () => performance.timeOrigin + performance.now();
  const seen = (node) => {
    if (node.nodeType !== 1) return;
    const now = clock();
    const cards = node.matches('article.highlight') ? [node] : [];
    for (const card of [...cards, ...node.querySelectorAll('article.highlight')]) {
      if (card.id in window.__seen) continue;
      window.__seen[card.id] = now;
      requestAnimationFrame(() => setTimeout(() => { window.__painted[card.id] = clock(); }));
    }
  };
  new MutationObserver((records) => {
    for (const r of records) r.addedNodes.forEach(seen);
  }).observe(document.getElementById('highlights'), {childList: true, subtree: true});
}"""


def _load(page: Any, url: str) -> tuple[dict[str, float], bytes]:
    response = page.goto(url, wait_until="load")
    page.wait_for_function(LOADED)
    timing = page.evaluate(TIMING)
    if response is None or response.status != 200 or not timing["cards"]:
        raise RuntimeError(f"{url} did not show highlights (status {response and response.status})")
    return timing, response.body()


def _paired(page: Any, dashboard: str, site: StaticSite, paths: list[str]) -> dict[str, list]:
    """Each path on the dashboard, then its very bytes from the static site."""
    got: dict[str, list] = {"load": [], "base": [], "ttfb": [], "base_ttfb": [], "bytes": []}
    for path in paths:
        timing, body = _load(page, dashboard + path)
        site.show(body)
        base, _ = _load(page, site.url + path)
        if base["bytes"] != timing["bytes"]:
            raise RuntimeError(f"baseline {base['bytes']} B, dashboard {timing['bytes']} B")
        got["load"].append(timing["load"])
        got["ttfb"].append(timing["ttfb"])
        got["base"].append(base["load"])
        got["base_ttfb"].append(base["ttfb"])
        got["bytes"].append(timing["bytes"])
    return got


# open the i-th card's transcript; resolve with the ms until its words arrive
OPEN_TRANSCRIPT = """(i) => new Promise((done) => {
  const part = document.querySelectorAll('details.transcript[hx-get]')[i];
  const began = performance.now();
  new MutationObserver((_, seen) => {
    if (part.querySelector('.words p')) { seen.disconnect(); done(performance.now() - began); }
  }).observe(part, {childList: true, subtree: true});
  part.open = true;
})"""


def _transcripts(page: Any, dashboard: str) -> list[float]:
    """Each of the first OPENS cards' transcript opened in turn: ms until shown."""
    page.goto(dashboard, wait_until="load")
    return [page.evaluate(OPEN_TRANSCRIPT, i) for i in range(OPENS)]


def _page_offset(page: Any) -> float:
    """Seconds to subtract from the page's epoch clock to get time.time()."""
    best = (float("inf"), 0.0)
    for _ in range(7):
        before = time.time()
        at = page.evaluate("performance.timeOrigin + performance.now()") / 1000
        after = time.time()
        best = min(best, (after - before, at - (before + after) / 2))
    return best[1]


class Subscriber:
    """A bare paho client on the same broker: when each highlight id arrived."""

    def __init__(self, port: int) -> None:
        self.arrived: dict[str, float] = {}
        self.changed = threading.Condition()
        subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda c, *a: c.subscribe("earmark/+/highlight", qos=1)
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_message = self._message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise RuntimeError("the bench subscriber could not subscribe")

    def _message(self, client: object, userdata: object, message: mqtt.MQTTMessage) -> None:
        now = time.time()
        key = json.loads(message.payload)["id"]
        with self.changed:
            self.arrived.setdefault(key, now)
            self.changed.notify_all()

    def wait(self, key: str) -> float:
        with self.changed:
            if not self.changed.wait_for(lambda: key in self.arrived, 10):
                raise RuntimeError("the bench subscriber never received the highlight")
            return self.arrived[key]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _publishes(page: Any, dashboard: str, port: int, stock: list[HighlightPayload]) -> dict:
    """Publish -> card in the DOM, and publish -> bare subscriber, for each publish."""
    page.goto(dashboard)
    page.wait_for_function("() => document.querySelector('#live')?._htmx?.sse !== undefined")
    page.evaluate(OBSERVE)
    subscriber = Subscriber(port)
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    publisher.connect("127.0.0.1", port)
    publisher.loop_start()
    rng = random.Random(7)
    visible, inserted, bare, began_at = [], [], [], {}
    try:
        offset = _page_offset(page)
        for i in range(WARMUP + PUBLISHES):
            if i % SESSION == 0:  # a listening session: presses in an episode not stored yet
                like = replace(rng.choice(stock), episode=f"Live {i // SESSION}")
            now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            h = replace(
                like,
                id=f"live{i:028d}",
                version=1,
                status="pending",
                pressed_at=now,
                updated_at=now,
                start=like.start + 90 * (i % SESSION),
                end=like.end + 90 * (i % SESSION),
                transcript=None,
                title=None,
                takeaways=[],
                quote=None,
            )
            payload = h.to_json()
            began = began_at[h.id] = time.time()
            publisher.publish(f"earmark/{h.device_id}/highlight", payload, qos=1)
            received = subscriber.wait(h.id)
            card = f"h-{h.id}"
            page.wait_for_function(SEEN, arg=card, polling=20, timeout=30_000)
            seen, painted = page.evaluate(
                "(card) => [window.__seen[card], window.__painted[card]]", card
            )
            if i >= WARMUP:
                visible.append(painted / 1000 - offset - began)
                inserted.append(seen / 1000 - offset - began)
                bare.append(received - began)
            time.sleep(rng.uniform(0.05, 0.15))
        drift = _page_offset(page) - offset
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        subscriber.close()
    return {
        "visible": visible,
        "inserted": inserted,
        "bare": bare,
        "drift": drift,
        "began": began_at,
    }


# -- figures -----------------------------------------------------------------------


def _q(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _figures(label: str, got: dict[str, list], runs: int, what: str) -> list[Figure]:
    out = []
    for name, q in (("p50", 0.5), ("p95", 0.95)):
        mine, base = _q(got["load"], q), _q(got["base"], q)
        out.append(
            Figure(
                f"dashboard: {label} {name} / same bytes, static",
                mine / base,
                detail=f"{mine:.0f} ms vs {base:.0f} ms; first byte {_q(got['ttfb'], q):.0f}"
                f" vs {_q(got['base_ttfb'], q):.0f} ms; {what}, {runs} runs",
            )
        )
    out.append(
        Figure(
            f"dashboard: {label} p95",
            _q(got["load"], 0.95),
            unit="ms",
            target="< 1000",
            detail=f"navigation -> load event; max {max(got['load']):.0f} ms",
        )
    )
    return out


_STAGE = [time.monotonic()]


def _note(what: str) -> None:
    now = time.monotonic()
    print(f"#   {what}: {now - _STAGE[0]:.1f}s", file=sys.stderr, flush=True)
    _STAGE[0] = now


def run() -> list[Figure]:
    _STAGE[0] = time.monotonic()
    if not CHROMIUM.exists():
        raise RuntimeError("Debian's chromium is not installed: ./earmark.sh test installs it")
    from playwright.sync_api import sync_playwright

    highlights, frequency = _highlights()
    words = _search_words(frequency)
    _note(f"made {HIGHLIGHTS} highlights")
    with (
        tempfile.TemporaryDirectory(prefix="earmark-bench-dashboard-") as folder,
        LocalBroker(free_port()) as broker,
    ):
        work = Path(folder)
        data_dir = work / "dashboard"
        _fill(data_dir / "dashboard.db", highlights)
        db_mb = sum(p.stat().st_size for p in data_dir.iterdir()) / 2**20
        _note(f"stored them through Mirror.apply ({db_mb:.0f} MB)")
        dashboard = Dashboard(work, broker.port, data_dir)
        _note("the dashboard answers")
        site = StaticSite()
        try:
            ready = dashboard.memory()
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.set_default_timeout(30_000)
                _paired(page, dashboard.url, site, [""] * WARMUP)
                loads = _paired(page, dashboard.url, site, [""] * LOADS)
                _note(f"{LOADS} loads of / and as many static")
                queries = [f"?q={quote_plus(w)}" for w in words]
                searches = _paired(page, dashboard.url, site, queries)
                _note(f"{SEARCHES} searches and as many static")
                opened = _transcripts(page, dashboard.url)
                _note(f"{OPENS} transcripts opened")
                after_pages = dashboard.memory()
                live = _publishes(page, dashboard.url, broker.port, highlights)
                _note(f"{PUBLISHES} publishes")
                after_live = dashboard.memory()
                browser.close()
        finally:
            site.close()
            dashboard.stop()
    hits = sorted(frequency[w] for w in words)
    visible_ms = [s * 1000 for s in live["visible"]]
    bare_ms = [s * 1000 for s in live["bare"]]
    inserted_ms = [s * 1000 for s in live["inserted"]]
    figures = _figures("load /", loads, LOADS, f"{_q(loads['bytes'], 0.5) / 1024:.0f} KB page")
    figures += _figures(
        "search /?q=",
        searches,
        SEARCHES,
        f"{SEARCHES} words found in {hits[0]}..{hits[-1]} highlights",
    )
    figures.append(
        Figure(
            "dashboard: open a card's transcript -> words shown p95",
            _q(opened, 0.95),
            unit="ms",
            detail=f"p50 {_q(opened, 0.5):.1f} ms, max {max(opened):.1f} ms; {OPENS} cards of /,"
            " fetched when opened",
        )
    )
    for name, q in (("p50", 0.5), ("p95", 0.95)):
        mine, base = _q(visible_ms, q), _q(bare_ms, q)
        figures.append(
            Figure(
                f"dashboard: publish -> card in page {name} / bare sub",
                mine / base,
                detail=f"{mine:.1f} ms vs {base:.2f} ms; in the DOM {_q(inserted_ms, q):.1f} ms,"
                f" then the next frame; {PUBLISHES} publishes, QoS 1",
            )
        )
    figures.append(
        Figure(
            "dashboard: publish -> card in page p95",
            _q(visible_ms, 0.95),
            unit="ms",
            target="< 1000",
            detail=f"max {max(visible_ms):.1f} ms; page clock drift {live['drift'] * 1000:+.1f} ms",
        )
    )
    figures.append(
        Figure(
            f"dashboard: RSS with {HIGHLIGHTS} highlights, after pages",
            after_pages["VmRSS"],
            unit="MB",
            detail=f"x{after_pages['VmRSS'] / ready['VmRSS']:.2f} its RSS when ready"
            f" ({ready['VmRSS']:.0f} MB); after the publishes {after_live['VmRSS']:.0f} MB,"
            f" peak {after_live['VmHWM']:.0f} MB; store {db_mb:.0f} MB",
        )
    )
    return figures
