"""Who may use the dashboard, and what a page may do.

- A password, stored only as an scrypt hash, is required to listen beyond
  localhost; signing in gives a session cookie (HttpOnly, SameSite=Strict,
  signed with a key kept in the dashboard's data dir).
- Every POST carries a CSRF token tied to a per-browser cookie, and its
  Origin, when the browser sends one, must be this dashboard.
- Every response says Content-Security-Policy without inline scripts: a
  feed's ``<script>`` or ``onerror=`` that slipped past escaping still cannot run.
- A share link is a capability for one highlight: an HMAC of its id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

SESSION_COOKIE = "earmark_session"
BROWSER_COOKIE = "earmark_browser"
SESSION_SECONDS = 30 * 24 * 3600
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: http: data:;"
    " media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none';"
    " form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def password_matches(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = _unb64(digest)
        found = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(found, expected)


class Keys:
    """The dashboard's signing key, made once and kept (0600) in its data dir."""

    def __init__(self, data_dir: Path) -> None:
        path = data_dir / "secret.key"
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(secrets.token_bytes(32))
        self.key = path.read_bytes()

    def sign(self, purpose: str, value: str) -> str:
        mac = hmac.new(self.key, f"{purpose}\0{value}".encode(), hashlib.sha256).digest()
        return _b64(mac[:18])

    def session(self, now: float | None = None) -> str:
        until = str(int((now or time.time()) + SESSION_SECONDS))
        return f"{until}.{self.sign('session', until)}"

    def session_valid(self, cookie: str | None, now: float | None = None) -> bool:
        if not cookie or "." not in cookie:
            return False
        until, mac = cookie.split(".", 1)
        if not until.isdigit() or int(until) < (now or time.time()):
            return False
        return hmac.compare_digest(mac, self.sign("session", until))

    def csrf(self, browser: str) -> str:
        return self.sign("csrf", browser)

    def csrf_valid(self, browser: str | None, token: str | None) -> bool:
        return bool(browser and token) and hmac.compare_digest(str(token), self.csrf(str(browser)))

    def share(self, highlight_id: str) -> str:
        return self.sign("share", highlight_id)


def new_browser_id() -> str:
    return secrets.token_urlsafe(18)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
