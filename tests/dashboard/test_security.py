"""Who may use the dashboard and what a page may do: the security headers on
every response, forms refused without this browser's CSRF token or from
another site (and no command sent), a password beyond localhost, sessions,
share links as capabilities for one highlight, and a Markdown export in
which a feed's HTML stays text."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from earmark.dashboard.security import Keys, hash_password, password_matches
from earmark.dashboard.store import episode_key
from earmark.sync.broker import LocalBroker, free_port

from ..support import MqttListener, wait_for
from .conftest import DashboardProcess, highlight, publish_highlight, publish_raw
from .shared import CSRF, start_dashboard, stored

PASSWORD = "correct horse battery"
HTML = "<script>alert(1)</script> <img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def shared_broker() -> Iterator[LocalBroker]:
    with LocalBroker(free_port()) as broker:
        yield broker


@pytest.fixture(scope="module")
def local(
    shared_broker: LocalBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DashboardProcess]:
    """A dashboard on 127.0.0.1 with no password, holding two highlights."""
    running = start_dashboard(tmp_path_factory.mktemp("local"), shared_broker.port)
    try:
        for h in (
            highlight(id="sec-1", device_id="secbox", title=f"First {HTML}", tags=[HTML]),
            highlight(
                id="sec-2",
                device_id="secbox",
                episode="Other",
                title="Second",
                pressed_at="2026-11-26T11:00:00.000Z",
            ),
        ):
            publish_highlight(shared_broker.port, h)
            stored(running, h.id)
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def guarded(
    shared_broker: LocalBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DashboardProcess]:
    """A dashboard with a password, holding two highlights of a speaker with state."""
    root = tmp_path_factory.mktemp("guarded")
    running = start_dashboard(root, shared_broker.port, {"password_hash": hash_password(PASSWORD)})
    try:
        publish_raw(
            shared_broker.port,
            "earmark/pwbox/state",
            b'{"schema": 1, "status": "playing", "podcast": "Pw Show", "episode": "Pw Ep"}',
        )
        publish_highlight(
            shared_broker.port, highlight(id="pw-1", device_id="pwbox", title="Shared one")
        )
        publish_highlight(
            shared_broker.port, highlight(id="pw-2", device_id="pwbox", title="Private two")
        )
        db = root / "dashboard" / "dashboard.db"
        wait_for(lambda: _count(db) == 2, 30, 0.05, "two highlights in the guarded dashboard")
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def share_keys(guarded: DashboardProcess) -> Keys:
    """The guarded dashboard's keys (its share links are HMACs with them)."""
    return Keys(guarded.config.parent / "dashboard")


def _count(db: Any) -> int:
    import sqlite3

    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM highlights").fetchone()[0])


def browser(dashboard: DashboardProcess) -> httpx.Client:
    return httpx.Client(base_url=dashboard.url, timeout=20, follow_redirects=False)


def csrf_of(client: httpx.Client, path: str = "/") -> str:
    found = CSRF.search(client.get(path).text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


# -- headers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/highlights/sec-1"),
        ("GET", "/highlights/nothing-here"),
        ("GET", "/highlights/sec-1/clip"),
        ("GET", "/highlights/sec-1/transcript"),
        ("GET", "/highlights/sec-1/edit"),
        ("GET", "/highlights/sec-1/text"),
        ("GET", "/episodes/0000000000000000"),
        ("GET", "/export.md"),
        ("GET", "/login"),
        ("GET", "/speakers"),
        ("GET", "/static/app.js"),
        ("GET", "/static/style.css"),
        ("GET", "/share/sec-1/wrong"),
        ("POST", "/speakers/secbox/control"),
        ("POST", "/highlights/sec-1/edit"),
    ],
)
def test_every_response_has_a_csp_without_inline_scripts_and_nosniff(
    method: str, path: str, local: DashboardProcess
) -> None:
    with browser(local) as client:
        response = client.request(method, path)
    csp = response.headers.get("content-security-policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert "script-src" in directives, (response.status_code, csp)
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    assert response.headers.get("x-content-type-options") == "nosniff"


# -- CSRF ---------------------------------------------------------------------------------


@pytest.fixture
def commands(shared_broker: LocalBroker) -> Iterator[MqttListener]:
    listener = MqttListener(shared_broker.port, "earmark/+/cmd/#")
    yield listener
    listener.close()


def sent_to_secbox(listener: MqttListener) -> list[str]:
    """The commands sent to secbox (its answers on cmd/result are the test's own)."""
    return [
        m.topic
        for m in list(listener.messages)
        if m.topic.startswith("earmark/secbox/") and m.topic != "earmark/secbox/cmd/result"
    ]


def only_the_next_command_arrives(
    local: DashboardProcess, shared_broker: LocalBroker, listener: MqttListener
) -> None:
    """Send one command the right way and answer it as the speaker would: had a
    refused form sent anything, it would have come before this one."""
    client = browser(local)
    token = csrf_of(client, "/highlights/sec-1")
    answers: list[int] = []
    post = threading.Thread(
        target=lambda: answers.append(
            client.post(
                "/speakers/secbox/control", data={"csrf": token, "command": "toggle"}
            ).status_code
        )
    )
    post.start()
    try:
        wait_for(lambda: sent_to_secbox(listener), 30, 0.05, "the command sent the right way")
        (message,) = [m for m in list(listener.messages) if m.topic.startswith("earmark/secbox/")]
        request = json.loads(message.payload)["id"]
        publish_raw(
            shared_broker.port,
            "earmark/secbox/cmd/result",
            f'{{"schema": 1, "id": "{request}", "ok": true}}'.encode(),
        )
    finally:
        post.join(30)
        client.close()
    assert answers == [303]
    assert sent_to_secbox(listener) == ["earmark/secbox/cmd/toggle"]


def refused_posts(client: httpx.Client, data: dict[str, str], **headers: str) -> list[int]:
    forms = [
        ("/highlights/sec-1/edit", {"action": "star"}),
        ("/highlights/sec-1/edit", {"action": "delete"}),
        ("/highlights/sec-1/listen", {}),
        ("/speakers/secbox/control", {"command": "toggle"}),
    ]
    return [
        client.post(path, data={**form, **data}, headers=headers).status_code
        for path, form in forms
    ]


def test_a_post_without_the_csrf_token_is_refused_and_sends_no_command(
    local: DashboardProcess, shared_broker: LocalBroker, commands: MqttListener
) -> None:
    with browser(local) as client:
        client.get("/")
        assert refused_posts(client, {}) == [403] * 4
    only_the_next_command_arrives(local, shared_broker, commands)


def test_a_post_with_another_browsers_token_is_refused_and_sends_no_command(
    local: DashboardProcess, shared_broker: LocalBroker, commands: MqttListener
) -> None:
    with browser(local) as other:
        stolen = csrf_of(other, "/highlights/sec-1")
    with browser(local) as client:
        assert csrf_of(client, "/highlights/sec-1") != stolen
        assert refused_posts(client, {"csrf": stolen}) == [403] * 4
    only_the_next_command_arrives(local, shared_broker, commands)


def test_a_post_from_a_foreign_origin_is_refused_and_sends_no_command(
    local: DashboardProcess, shared_broker: LocalBroker, commands: MqttListener
) -> None:
    with browser(local) as client:
        token = csrf_of(client, "/highlights/sec-1")
        refused = refused_posts(client, {"csrf": token}, Origin="http://evil.example")
        assert refused == [403] * 4
    only_the_next_command_arrives(local, shared_broker, commands)


# -- listening beyond localhost ---------------------------------------------------------


def test_listening_beyond_localhost_without_a_password_refuses_to_start_with_one_line(
    tmp_path: Any, shared_broker: LocalBroker
) -> None:
    config = tmp_path / "open.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "device_id": "testbox",
                "data_dir": str(tmp_path / "data"),
                "mqtt": {"host": "127.0.0.1", "port": shared_broker.port},
                "dashboard": {"host": "0.0.0.0", "port": free_port()},
            }
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "earmark", "-c", str(config), "dashboard"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode != 0
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert "0.0.0.0" in lines[0] and "password" in lines[0]


# -- a password -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/highlights/pw-2",
        "/highlights/pw-2/transcript",
        "/highlights/pw-2/edit",
        "/highlights/pw-2/text",
        "/episodes/x",
        "/export.md",
        "/speakers",
    ],
)
def test_with_a_password_pages_redirect_to_the_login(path: str, guarded: DashboardProcess) -> None:
    with browser(guarded) as client:
        response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert "Private two" not in response.text


def test_with_a_password_the_live_stream_and_clips_are_refused(guarded: DashboardProcess) -> None:
    with browser(guarded) as client:
        assert client.get("/events").status_code == 401
        assert client.get("/highlights/pw-1/clip").status_code == 303
        assert client.get("/", headers={"HX-Request": "true"}).status_code == 401
        # a card's part fetched when opened, after the session ran out
        lazy = client.get("/highlights/pw-2/edit", headers={"HX-Request": "true"})
        assert lazy.status_code == 401 and "Private two" not in lazy.text


def test_a_wrong_password_is_refused(guarded: DashboardProcess) -> None:
    with browser(guarded) as client:
        token = csrf_of(client, "/login")
        response = client.post("/login", data={"csrf": token, "password": "not the one"})
        assert response.status_code == 401
        assert "earmark_session" not in response.headers.get("set-cookie", "")
        assert client.get("/").status_code == 303


def test_the_right_password_gives_an_httponly_strict_session_and_the_page_loads(
    guarded: DashboardProcess,
) -> None:
    with browser(guarded) as client:
        token = csrf_of(client, "/login")
        response = client.post("/login", data={"csrf": token, "password": PASSWORD})
        assert response.status_code == 303
        (cookie,) = [
            c for c in response.headers.get_list("set-cookie") if c.startswith("earmark_session=")
        ]
        attributes = {a.strip().lower() for a in cookie.split(";")}
        assert "httponly" in attributes
        assert "samesite=strict" in attributes
        page = client.get("/")
        assert page.status_code == 200
        assert 'id="h-pw-1"' in page.text and 'id="h-pw-2"' in page.text


def test_a_share_page_works_without_login_and_shows_that_highlight_only(
    guarded: DashboardProcess, share_keys: Keys
) -> None:
    token = share_keys.share("pw-1")
    with browser(guarded) as client:
        response = client.get(f"/share/pw-1/{token}")
    assert response.status_code == 200
    html = response.text
    assert "Shared one" in html
    assert "Private two" not in html and "pw-2" not in html
    assert 'class="speaker' not in html and "pwbox" not in html and "Pw Ep" not in html
    assert "<nav" not in html and "<form" not in html and "csrf" not in html
    assert re.findall(r"<a\b", html) == []


@pytest.mark.parametrize("token", ["wrong", "the-token-of-pw-2"])
def test_a_share_link_with_a_wrong_token_is_not_found(
    token: str, guarded: DashboardProcess, share_keys: Keys
) -> None:
    if token == "the-token-of-pw-2":
        token = share_keys.share("pw-2")
    with browser(guarded) as client:
        page = client.get(f"/share/pw-1/{token}")
        clip = client.get(f"/share/pw-1/{token}/clip")
    assert page.status_code == 404
    assert "Shared one" not in page.text
    assert clip.status_code == 404


def test_hash_password_reads_stdin_and_prints_a_line_that_matches() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "earmark", "dashboard", "--hash-password"],
        input="a long enough secret\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.strip().splitlines()
    assert line.startswith("password_hash: scrypt$")
    stored_hash = line.removeprefix("password_hash: ")
    assert password_matches("a long enough secret", stored_hash)
    assert not password_matches("a long enough secreT", stored_hash)


# -- Markdown export --------------------------------------------------------------------------


def unescaped_markup(text: str) -> list[str]:
    return re.findall(r"(?<!\\)[<>]", text)


def test_the_markdown_export_has_every_highlight_with_its_html_neutralised(
    local: DashboardProcess,
) -> None:
    status, headers, body = local.get("/export.md")
    text = body.decode()
    assert status == 200 and {k.lower(): v for k, v in headers.items()}["content-type"].startswith(
        "text/markdown"
    )
    assert "First" in text and "Second" in text
    assert r"\<script\>alert(1)\</script\>" in text
    # tags are the lines '#tag #other' (headings have a space after their #s)
    untagged = [line for line in text.splitlines() if not re.match(r"#[^# ]", line)]
    assert unescaped_markup("\n".join(untagged)) == []


def test_an_episodes_markdown_export_has_only_its_highlights_neutralised(
    local: DashboardProcess,
) -> None:
    key = episode_key("The Slow Garden", "Other")
    status, _, body = local.get(f"/episodes/{key}/export.md")
    text = body.decode()
    assert status == 200
    assert "Second" in text and "First" not in text
    assert unescaped_markup(text) == []


def test_the_markdown_export_neutralises_html_in_tags(local: DashboardProcess) -> None:
    _, _, body = local.get("/export.md")
    assert unescaped_markup(body.decode()) == []
