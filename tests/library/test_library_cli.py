"""A new user's library, through the CLI of a running daemon: subscribe to a
feed, see its episodes and chapters, export and unsubscribe."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from earmark.library.fileserver import FileServer
from earmark.sync.broker import LocalBroker

from ..conftest import Episode
from ..daemon_process import Daemon, earmark
from ..support import MqttListener, wait_for
from .servers import Request, Site, body

CHAPTERED_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:psc="http://podlove.org/simple-chapters">
<channel><title>The Slow Garden</title><description>Vegetables in small spaces</description>
<item><guid>garden-1</guid><title>Compost</title>
<pubDate>Mon, 09 Nov 2026 08:00:00 +0000</pubDate>
<enclosure url="{base}/garden.mp3" type="audio/mpeg" length="{size}"/>
<psc:chapters version="1.2">
  <psc:chapter start="00:00:00" title="Welcome back"/>
  <psc:chapter start="00:00:12.5" title="Greens and browns"/>
</psc:chapters>
</item></channel></rss>"""


@pytest.fixture
def chaptered_feed(tmp_path: Path, garden_episode: Episode) -> Iterator[str]:
    root = tmp_path / "show"
    root.mkdir()
    shutil.copy(garden_episode.path, root / "garden.mp3")
    with FileServer(root) as server:
        size = (root / "garden.mp3").stat().st_size
        (root / "feed.xml").write_text(CHAPTERED_FEED.format(base=server.base_url, size=size))
        yield server.url("feed.xml")


def test_subscribe_then_episodes_and_chapters_work_as_a_new_user_expects(
    write_config: Callable[..., Path],
    broker: LocalBroker,
    mqtt_listener: MqttListener,
    chaptered_feed: str,
    tmp_path: Path,
) -> None:
    config = write_config({"mqtt": {"host": "127.0.0.1", "port": broker.port}})
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        wait_for(lambda: daemon.status(), what="the daemon to answer")
        assert "no podcasts" in earmark(config, "podcasts").stdout

        subscribed = earmark(config, "subscribe", chaptered_feed, timeout=150)
        assert subscribed.returncode == 0, subscribed.stderr
        assert "The Slow Garden" in subscribed.stdout and "1 new" in subscribed.stdout

        podcasts = earmark(config, "podcasts").stdout
        assert "The Slow Garden" in podcasts and "1 episodes" in podcasts
        listed = earmark(config, "episodes").stdout
        assert "The Slow Garden — Compost" in listed
        episode_id = listed.split()[0]
        assert "Compost" in earmark(config, "episodes", "garden").stdout
        assert earmark(config, "episodes", "no such show").returncode != 0

        chapters = earmark(config, "chapters", episode_id)
        assert chapters.returncode == 0, chapters.stderr
        assert "00:00  Welcome back" in chapters.stdout
        assert "00:12  Greens and browns" in chapters.stdout

        # the empty speaker starts the first episode the library stores
        daemon.wait_playing()
        assert "Greens and browns" in earmark(config, "chapters").stdout
        # and the MQTT state carries them, for a dashboard to show
        state = wait_for(
            lambda: next((p for p in mqtt_listener.payloads("/state") if p["chapters"]), None),
            what="a state with chapters",
        )
        assert [c["title"] for c in state["chapters"]] == ["Welcome back", "Greens and browns"]

        exported = earmark(config, "opml", "export").stdout
        assert f'xmlUrl="{chaptered_feed}"' in exported

        assert earmark(config, "unsubscribe", "Slow Garden").returncode == 0
        assert "no podcasts" in earmark(config, "podcasts").stdout
    finally:
        daemon.terminate()


def test_a_bad_subscription_is_one_line_and_a_bad_name_exits_non_zero(
    write_config: Callable[..., Path], broker: LocalBroker, file_server: FileServer, tmp_path: Path
) -> None:
    (file_server.root / "page.html").write_text("<html><body>not a feed</body></html>")
    config = write_config({"mqtt": {"host": "127.0.0.1", "port": broker.port}})
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        wait_for(lambda: daemon.status(), what="the daemon to answer")
        refused = earmark(config, "subscribe", file_server.url("page.html"), timeout=150)
        assert refused.returncode != 0
        assert refused.stderr.count("\n") == 1 and "not a podcast feed" in refused.stderr
        missing = earmark(config, "unsubscribe", "Nothing Like It")
        assert missing.returncode != 0 and "no podcast 'Nothing Like It'" in missing.stderr
        assert json.loads(earmark(config, "status", "--json").stdout)
    finally:
        daemon.terminate()


def test_downloads_shows_the_one_under_way_and_watch_follows_it_to_the_end(
    write_config: Callable[..., Path], broker: LocalBroker, site: Site, tmp_path: Path
) -> None:
    audio = b"\xff\xfb" + b"a" * (256 * 1024)
    released = threading.Event()

    def half_then_wait(request: Request) -> None:
        request.send(
            200, audio[: len(audio) // 2], {"Content-Type": "audio/mpeg"}, length=len(audio)
        )
        request.handler.wfile.flush()
        if released.wait(120):
            request.handler.wfile.write(audio[len(audio) // 2 :])

    site.on("slow.mp3", half_then_wait)
    feed = site.on(
        "feed.xml",
        body(
            (
                '<?xml version="1.0"?><rss version="2.0"><channel><title>Slow</title>'
                "<item><guid>s1</guid><title>Held back</title>"
                f'<enclosure url="{site.url("slow.mp3")}"'
                f' type="audio/mpeg" length="{len(audio)}"/></item></channel></rss>'
            ).encode()
        ),
    )
    config = write_config(
        {
            "mqtt": {"host": "127.0.0.1", "port": broker.port},
            "player": {"autoplay": False},
            # the held-back half must not count as a server gone silent
            "library": {"feeds": [feed], "connect_seconds": 120},
        }
    )
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        shown = wait_for(
            lambda: (lambda out: out if "downloading Held back" in out else None)(
                earmark(config, "downloads").stdout
            ),
            what="the download under way",
        )
        assert f"of {len(audio) // 1024} KB" in shown
        released.set()
        watched = earmark(config, "downloads", "--watch", timeout=120)
        assert watched.returncode == 0 and "nothing left to download" in watched.stdout
        (episode,) = [line for line in earmark(config, "episodes").stdout.splitlines() if line]
        assert "stream" not in episode  # downloaded now
    finally:
        released.set()
        daemon.terminate()


def test_importing_500_feeds_subscribes_at_once_and_refreshes_a_few_at_a_time(
    write_config: Callable[..., Path], broker: LocalBroker, site: Site, tmp_path: Path
) -> None:
    in_flight, most = [0], [0]
    lock = threading.Lock()

    def feed_answer(n: int) -> Callable[[Request], None]:
        document = (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Show {n}</title>'
            f'<item><guid>{n}-1</guid><title>Episode of {n}</title><enclosure url="'
            f'{site.url(f"audio/{n}.mp3")}" type="audio/mpeg" length="9"/></item></channel></rss>'
        ).encode()

        def answer(request: Request) -> None:
            with lock:
                in_flight[0] += 1
                most[0] = max(most[0], in_flight[0])
            try:
                request.stopping.wait(0.02)  # long enough for refreshes to overlap
            finally:
                # counted out before the answer: the refresh that gets it may start
                # the next at once, before this thread could count it out after
                with lock:
                    in_flight[0] -= 1
            request.send(200, document)

        return answer

    urls = [site.on(f"feeds/{n}.xml", feed_answer(n)) for n in range(500)]
    opml = tmp_path / "podcasts.opml"
    outlines = "".join(
        f'<outline type="rss" text="Show {n}" xmlUrl="{u}"/>' for n, u in enumerate(urls)
    )
    opml.write_text(f'<?xml version="1.0"?><opml version="2.0"><body>{outlines}</body></opml>')
    config = write_config(
        {
            "mqtt": {"host": "127.0.0.1", "port": broker.port},
            "player": {"autoplay": False},
            "library": {"download": False},
        }
    )
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        wait_for(lambda: daemon.status(), what="the daemon to answer")
        imported = earmark(config, "opml", "import", str(opml), timeout=150)
        assert imported.returncode == 0, imported.stderr
        assert "subscribed to 500 new of 500 feeds" in imported.stdout

        def all_refreshed() -> bool:
            listed = earmark(config, "podcasts").stdout
            return listed.count("refreshed never") == 0 and listed.count("1 episodes") == 500

        wait_for(all_refreshed, timeout=600, what="500 feeds refreshed in the background")
        assert 1 < most[0] <= 4  # library.refresh_concurrency, the default
        assert "Show 499" in earmark(config, "opml", "export").stdout
    finally:
        daemon.terminate()
