"""The dashboard's pages and controls (Starlette), and its live stream (SSE).

Pages are rendered on the server with Jinja2 (autoescaped); htmx swaps the
fragments that a control returns or that the live stream pushes. Nothing here
writes a highlight: an edit is a command to the speaker, and the change comes
back through MQTT as the highlight's next version, like every other."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio
import jinja2
from markupsafe import escape
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from earmark.dashboard import views
from earmark.dashboard.hub import BrokerChanged, Change, HighlightChanged, Hub, SpeakerChanged
from earmark.dashboard.ingest import NAME, Ingest
from earmark.dashboard.security import (
    BROWSER_COOKIE,
    HEADERS,
    SESSION_COOKIE,
    SESSION_SECONDS,
    Keys,
    new_browser_id,
    password_matches,
)
from earmark.dashboard.settings import Settings
from earmark.dashboard.store import PAGE, Filters, Mirror, Stored, page_cursor
from earmark.payloads import HighlightPayload

HERE = Path(__file__).parent
# the controls a speaker card offers, as the speaker's command names
CONTROLS = ("toggle", "skip_back", "next", "snip", "volume")
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
OPEN_PATHS = ("/login", "/static/", "/share/")
# seconds a live stream has to end by itself when the server stops (within
# uvicorn's 3 s graceful shutdown, serve.py)
STOP_GRACE = 2.0
Handler = Callable[[Request], Awaitable[Response]]


class Dashboard:
    def __init__(self, settings: Settings, mirror: Mirror, hub: Hub, ingest: Ingest) -> None:
        self.settings = settings
        self.mirror = mirror
        self.hub = hub
        self.ingest = ingest
        self.keys = Keys(settings.data_dir)
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.templates.globals.update(
            clock=views.clock,
            when=views.when,
            safe_link=views.safe_link,
            marked=views.marked,
            transcript_key=views.transcript_key,
            progress=views.PROGRESS,
            steps=views.STEPS,
            share=self.keys.share,
            controls=CONTROLS,
        )

    # -- rendering -----------------------------------------------------------------

    def render(
        self, request: Request, name: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        html = self.fragment(request, name, **context)
        return HTMLResponse(html, status_code=status)

    def fragment(self, request: Request, name: str, **context: Any) -> str:
        return self.templates.get_template(name).render(
            csrf=self.keys.csrf(request.state.browser),
            login=self.settings.password_hash is not None,
            # the page shows the mirror as of this change; its live stream starts there
            live_after=self.hub.mark,
            broker=self.ingest,
            **context,
        )

    # -- pages -----------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        filters = _filters(request)
        before = request.query_params.get("before")
        found = self.mirror.highlights(filters, before=before, limit=PAGE + 1)
        shown = found[:PAGE]
        older = None
        # search results are the best matches, not a timeline: they are not paged
        if len(found) > PAGE and not filters.query:
            query = {k: v for k, v in request.query_params.items() if k != "before"}
            older = urlencode({**query, "before": page_cursor(shown[-1].highlight)})
        return self.render(
            request,
            "index.html",
            filters=filters,
            groups=views.grouped(shown),
            speakers=self.mirror.speakers(),
            podcasts=self.mirror.podcasts(),
            more=older,
            # an older page is not where new highlights go; updates still come
            live=request.url.query + ("&q=none" if before else ""),
        )

    async def highlight(self, request: Request) -> Response:
        stored = self._stored(request)
        return self.render(
            request, "highlight_page.html", s=stored, speakers=self.mirror.speakers()
        )

    async def episode(self, request: Request) -> Response:
        key = request.path_params["key"]
        stored, points = self.mirror.episode(key)
        if not stored and not points:
            raise HTTPException(404, "no such episode here")
        first = stored[0].highlight if stored else None
        return self.render(
            request,
            "episode.html",
            key=key,
            podcast=first.podcast if first else points[0].podcast,
            episode=first.episode if first else points[0].episode,
            artwork=next((views.safe_link(s.highlight.artwork) for s in stored), None),
            highlights=stored,
            points=points[0].key_points if points else [],
            speakers=self.mirror.speakers(),
        )

    async def clip(self, request: Request) -> Response:
        highlight_id = request.path_params["id"]
        if "token" in request.path_params:
            self._check_share(request)
        data = self.mirror.clip(highlight_id) if NAME.fullmatch(highlight_id) else None
        if data is None:
            raise HTTPException(404, "no clip for this highlight yet")
        return _audio(request, data)

    async def share(self, request: Request) -> Response:
        self._check_share(request)
        stored = self._stored(request)
        if stored.highlight.deleted:
            raise HTTPException(404, "this highlight was deleted")
        return self.render(request, "share.html", s=stored, token=request.path_params["token"])

    async def export(self, request: Request) -> Response:
        key = request.path_params.get("key")
        stored = self.mirror.everything(key)
        base = str(request.base_url)
        name = f"earmark-{key}.md" if key else "earmark-highlights.md"
        return PlainTextResponse(
            views.markdown(stored, base),
            media_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    # -- the parts of a card loaded when the listener opens them -----------------------

    async def transcript(self, request: Request) -> Response:
        """The transcript with the quote marked, for the card's Transcript."""
        h = self._fragment_of(request)
        if isinstance(h, Response):
            return h
        if not h.transcript:
            return HTMLResponse('<p class="muted">No transcript yet.</p>')
        return HTMLResponse(f"<p>{views.transcript_with_quote(h)}</p>")

    async def edit_form(self, request: Request) -> Response:
        """The Edit form, showing the highlight as it is now."""
        h = self._fragment_of(request)
        if isinstance(h, Response):
            return h
        return self.render(request, "_edit.html", h=h)

    async def as_text(self, request: Request) -> Response:
        """The highlight as plain text, for "Copy as text"."""
        h = self._fragment_of(request)
        if isinstance(h, Response):
            return PlainTextResponse("", status_code=h.status_code)
        return PlainTextResponse(views.as_text(h))

    def _fragment_of(self, request: Request) -> HighlightPayload | Response:
        """The highlight a fragment is for, or the 404 the card shows in its place."""
        highlight_id = request.path_params["id"]
        stored = self.mirror.highlight(highlight_id) if NAME.fullmatch(highlight_id) else None
        if stored is None:
            return _missing("This highlight is not here (unknown or removed): reload the page.")
        if stored.highlight.deleted:
            return _missing("This highlight was deleted.")
        return stored.highlight

    async def speakers(self, request: Request) -> Response:
        return self.render(request, "_speakers.html", speakers=self.mirror.speakers())

    # -- controls: commands to a speaker ----------------------------------------------

    async def edit(self, request: Request) -> Response:
        stored = self._stored(request)
        h = stored.highlight
        form = await self._form(request)
        changes: dict[str, Any] = {}
        action = form.get("action", "save")
        if action == "listen":
            return await self._listen(request, h, form)
        if action == "star":
            changes["starred"] = not h.starred
        elif action in ("delete", "undo"):
            changes["deleted"] = action == "delete"
        else:
            changes = _edited(form, h)
        if not changes:
            return self._result(request, h.id, {"ok": True, "message": "nothing changed"})
        answer = await self.ingest.command(h.device_id, "edit", {"highlight": h.id, **changes})
        return self._result(request, h.id, answer)

    async def listen(self, request: Request) -> Response:
        h = self._stored(request).highlight
        return await self._listen(request, h, await self._form(request))

    async def _listen(
        self, request: Request, h: HighlightPayload, form: dict[str, str]
    ) -> Response:
        speaker = form.get("speaker") or h.device_id
        args: dict[str, Any] = {"highlight": h.id}
        if speaker != h.device_id:  # that speaker finds the same episode in its library
            moment = {"podcast": h.podcast, "episode": h.episode, "source_url": h.source_url}
            args |= {key: value for key, value in moment.items() if value}
            args["start"] = h.start
        answer = await self.ingest.command(speaker, "listen", args)
        return self._result(request, h.id, answer)

    async def control(self, request: Request) -> Response:
        device = request.path_params["device"]
        form = await self._form(request)
        name = form.get("command", "")
        if name not in CONTROLS:
            raise HTTPException(400, f"'{name[:40]}' is not a control here")
        args: dict[str, Any] = {}
        if name == "volume":
            try:
                args["value"] = float(form.get("value", ""))
            except ValueError:
                raise HTTPException(400, "the volume must be a number from 0 to 100") from None
        answer = await self.ingest.command(device, name, args)
        return self._result(request, f"s-{device}", answer)

    def _result(self, request: Request, target: str, answer: dict[str, Any]) -> Response:
        if request.headers.get("HX-Request"):
            return self.render(request, "_result.html", answer=answer)
        back = request.headers.get("Referer") or "/"
        return RedirectResponse(back if back.startswith(str(request.base_url)) else "/", 303)

    # -- signing in ----------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        return self.render(request, "login.html", failed=False)

    async def login(self, request: Request) -> Response:
        form = await self._form(request)
        stored = self.settings.password_hash
        if stored is None or not password_matches(form.get("password", ""), stored):
            return self.render(request, "login.html", status=401, failed=True)
        response = RedirectResponse("/", 303)
        response.set_cookie(
            SESSION_COOKIE,
            self.keys.session(),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def logout(self, request: Request) -> Response:
        await self._form(request)
        response = RedirectResponse("/login", 303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    # -- the live stream ------------------------------------------------------------------

    async def events(self, request: Request) -> Response:
        filters = _filters(request)
        mark = request.query_params.get("after")
        page, missed = self.hub.listen(mark[:40] if mark else None)
        # set by sse-starlette when the server stops: the stream then ends as a
        # finished response (cut off instead, uvicorn says the app never completed it)
        stopping = anyio.Event()

        async def stream() -> AsyncIterator[dict[str, str]]:
            try:
                yield {"data": self._broker_banner(request)}  # how things stand now
                if missed:
                    yield {"data": _partial("#missed", self.fragment(request, "_missed.html"))}
                while True:
                    change = await _next_change(page, stopping)
                    if change is None:
                        return  # too far behind (the browser reconnects afresh), or stopping
                    html = self._pushed(request, change, filters)
                    if html:
                        yield {"data": html}
            finally:
                self.hub.leave(page)

        return EventSourceResponse(
            stream(), ping=15, shutdown_event=stopping, shutdown_grace_period=STOP_GRACE
        )

    def _pushed(self, request: Request, change: Change, filters: Filters) -> str:
        """What one page is sent for ``change``, rendered for that page's browser
        (its forms carry that browser's CSRF token)."""
        if isinstance(change, BrokerChanged):
            return self._broker_banner(request)
        if isinstance(change, SpeakerChanged):
            cards = self.fragment(request, "_speakers.html", speakers=self.mirror.speakers())
            return _partial("#speakers", cards, "innerMorph")
        assert isinstance(change, HighlightChanged)
        s = change.stored
        if change.new:
            if filters.query or not filters.matches(s.highlight):
                return ""
            # the new card in a group of its own at the top; app.js moves the cards
            # of the episode's group further down into it, so nothing is re-rendered
            group = views.grouped([s])[0]
            speakers = self.mirror.speakers()
            html = self.fragment(request, "_group.html", group=group, speakers=speakers)
            return _partial("#highlights", html, "afterbegin")

        card = self.fragment(request, "_highlight.html", s=s, speakers=self.mirror.speakers())
        return _partial(f"#h-{s.highlight.id}", card, "outerMorph")

    def _broker_banner(self, request: Request) -> str:
        html = self.fragment(request, "_broker.html")
        return _partial("#broker", html)

    # -- helpers ----------------------------------------------------------------------------

    def _stored(self, request: Request) -> Stored:
        highlight_id = request.path_params["id"]
        stored = self.mirror.highlight(highlight_id) if NAME.fullmatch(highlight_id) else None
        if stored is None:
            raise HTTPException(404, "no such highlight here")
        return stored

    def _check_share(self, request: Request) -> None:
        expected = self.keys.share(request.path_params["id"])
        if request.path_params["token"] != expected:
            raise HTTPException(404, "no such shared highlight")

    async def _form(self, request: Request) -> dict[str, str]:
        """A POST's fields, once its CSRF token and origin are checked."""
        origin = request.headers.get("Origin")
        if origin is not None and origin.rstrip("/") != str(request.base_url).rstrip("/"):
            raise HTTPException(403, "a form from another site")
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if not self.keys.csrf_valid(request.cookies.get(BROWSER_COOKIE), fields.get("csrf")):
            raise HTTPException(403, "the form is stale; reload the page and try again")
        return fields

    # -- the application --------------------------------------------------------------------

    def app(self, lifespan: Any = None) -> Starlette:
        routes = [
            Route("/", self.index),
            Route("/events", self.events),
            Route("/speakers", self.speakers),
            Route("/speakers/{device}/control", self.control, methods=["POST"]),
            Route("/highlights/{id}", self.highlight),
            Route("/highlights/{id}/clip", self.clip),
            Route("/highlights/{id}/edit", self.edit, methods=["POST"]),
            Route("/highlights/{id}/edit", self.edit_form),
            Route("/highlights/{id}/transcript", self.transcript),
            Route("/highlights/{id}/text", self.as_text),
            Route("/highlights/{id}/listen", self.listen, methods=["POST"]),
            Route("/episodes/{key}", self.episode),
            Route("/episodes/{key}/export.md", self.export),
            Route("/export.md", self.export),
            Route("/share/{id}/{token}", self.share),
            Route("/share/{id}/{token}/clip", self.clip),
            Route("/login", self.login_page),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]
        app = Starlette(routes=routes, lifespan=lifespan)
        app.add_middleware(Guard, dashboard=self)
        return app


class Guard:
    """Every response: the security headers and the browser's CSRF cookie; with a
    password set, every page but the login, static files and share links needs
    the session cookie."""

    def __init__(self, app: ASGIApp, dashboard: Dashboard) -> None:
        self.app = app
        self.dashboard = dashboard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        browser = request.cookies.get(BROWSER_COOKIE)
        fresh = browser is None or not re.fullmatch(r"[A-Za-z0-9_-]{10,64}", browser)
        if fresh:
            browser = new_browser_id()
        scope.setdefault("state", {})["browser"] = browser
        keys = self.dashboard.keys
        if (
            self.dashboard.settings.password_hash is not None
            and not scope["path"].startswith(OPEN_PATHS)
            and not keys.session_valid(request.cookies.get(SESSION_COOKIE))
        ):
            denied: Response = RedirectResponse("/login", 303)
            if request.headers.get("HX-Request") or scope["path"] == "/events":
                denied = PlainTextResponse("sign in again", 401)
            await _with_headers(denied, browser if fresh else None)(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
                if fresh:
                    headers.append("set-cookie", _browser_cookie(str(browser)))
            await send(message)

        await self.app(scope, receive, send_secured)


async def _next_change(page: asyncio.Queue[Change | None], stopping: anyio.Event) -> Change | None:
    """The page's next change; None once the server is stopping."""
    getting = asyncio.ensure_future(page.get())
    waiting = asyncio.ensure_future(stopping.wait())
    await asyncio.wait((getting, waiting), return_when=asyncio.FIRST_COMPLETED)
    for task in (getting, waiting):
        task.cancel()  # a Queue.get cancelled before it finished took nothing
    return getting.result() if getting.done() and not getting.cancelled() else None


def _partial(target: str, html: str, swap: str = "outerHTML") -> str:
    """An htmx 4 partial for the live stream: ``html`` swapped in at ``target``."""
    return f'<hx-partial hx-target="{target}" hx-swap="{swap}">{html}</hx-partial>'


def _with_headers(response: Response, browser: str | None) -> Response:
    response.headers.update(HEADERS)
    if browser:
        response.headers.append("set-cookie", _browser_cookie(browser))
    return response


def _browser_cookie(browser: str) -> str:
    return f"{BROWSER_COOKIE}={browser}; Path=/; HttpOnly; SameSite=Strict; Max-Age=31536000"


def _missing(message: str) -> HTMLResponse:
    return HTMLResponse(f'<p class="error" role="alert">{escape(message)}</p>', status_code=404)


def _filters(request: Request) -> Filters:
    q = request.query_params

    def day(name: str) -> str | None:
        value = q.get(name, "")
        return value if DAY.fullmatch(value) else None

    return Filters(
        podcast=q.get("podcast") or None,
        device_id=q.get("speaker") or None,
        starred=q.get("starred") == "1",
        since=day("since"),
        until=day("until"),
        query=(q.get("q") or "").strip()[:200] or None,
    )


def _edited(form: dict[str, str], h: HighlightPayload) -> dict[str, Any]:
    """The fields the listener changed in the Edit form: each compared with what
    that form showed (``was_<field>``), else with the highlight as it is now."""

    def was(name: str, now: str) -> str:
        return form.get(f"was_{name}", now)

    changes: dict[str, Any] = {}
    title = form.get("title", "").strip()
    if title != was("title", h.title or "").strip():
        changes["title"] = title or None
    note = form.get("note", "").strip()
    if note != was("note", h.note).strip():
        changes["note"] = note
    tags = _tags(form.get("tags", ""))
    if tags != _tags(was("tags", ", ".join(h.tags))):
        changes["tags"] = tags
    for name, now in (("start", h.start), ("end", h.end)):
        given, shown = _seconds(form.get(name, "")), _seconds(was(name, str(now)))
        if given is not None and (shown is None or abs(given - shown) >= 0.05):
            changes[name] = given
    return changes


def _tags(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _seconds(text: str) -> float | None:
    """'75', '1:15' or '1:01:15' as seconds; None when empty or not a time."""
    text = text.strip()
    if not text:
        return None
    try:
        total = 0.0
        for part in text.split(":"):
            total = total * 60 + float(part)
    except ValueError:
        return None
    return total if total >= 0 else None


def _audio(request: Request, data: bytes) -> Response:
    """The clip, with byte ranges (a browser seeks an Ogg file to learn its length)."""
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=60"}
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", request.headers.get("Range", ""))
    if match is None or match.groups() == ("", ""):
        return Response(data, media_type="audio/ogg", headers=headers)
    first, last = match.groups()
    size = len(data)
    start = int(first) if first else max(0, size - int(last))
    end = min(size - 1, int(last)) if first and last else size - 1
    if start >= size or start > end:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return Response(data[start : end + 1], status_code=206, media_type="audio/ogg", headers=headers)
