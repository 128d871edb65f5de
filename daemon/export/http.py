"""JSON over HTTP for the exporters (standard library only), with every way a
server can fail turned into the export error that says what happens next."""

from __future__ import annotations

import email.utils
import http.client
import json
import time
import urllib.parse
from typing import Any

from earmark.export.base import AuthFailed, RateLimited, Rejected, TargetDown

# when a 429 says nothing about when to come back
DEFAULT_RETRY_AFTER = 60.0
MAX_RETRY_AFTER = 6 * 3600.0


def request_json(
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    body: Any = None,
    timeout: float = 30.0,
    what: str = "the server",
) -> Any:
    """Send ``body`` as JSON; the decoded answer (None for an empty one)."""
    parts = urllib.parse.urlsplit(url)
    secure = parts.scheme == "https"
    connection_class = http.client.HTTPSConnection if secure else http.client.HTTPConnection
    connection = connection_class(parts.netloc, timeout=timeout)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    data = None if body is None else json.dumps(body).encode()
    sent = {"Accept": "application/json", "User-Agent": "earmark", **headers}
    if data is not None:
        sent["Content-Type"] = "application/json"
    try:
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        status, answer = response.status, response.read()
        retry_after = response.getheader("Retry-After")
    except TimeoutError:
        raise TargetDown(f"{what} did not answer within {timeout:g} s") from None
    except (OSError, http.client.HTTPException) as exc:
        raise TargetDown(f"cannot reach {what} at {parts.netloc}: {exc}") from None
    finally:
        connection.close()
    if status in (401, 403):
        raise AuthFailed(
            f"{what} refused the token (HTTP {status}); check it, then it is tried again"
        )
    if status == 429:
        wait = retry_after_seconds(retry_after)
        raise RateLimited(f"{what} asks to slow down (HTTP 429); again in {wait:.0f} s", wait)
    if status >= 500 or status == 409:  # 409: a conflict Notion says to retry
        raise TargetDown(f"{what} failed (HTTP {status}): {_said(answer)}")
    if status >= 400:
        raise Rejected(f"{what} refused the item (HTTP {status}): {_said(answer)}")
    if not answer.strip():
        return None
    try:
        return json.loads(answer)
    except ValueError:
        raise TargetDown(f"{what} answered HTTP {status} with something that is not JSON") from None


def retry_after_seconds(value: str | None, now: float | None = None) -> float:
    """A Retry-After header (seconds, or an HTTP date) as seconds, bounded."""
    if not value:
        return DEFAULT_RETRY_AFTER
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return DEFAULT_RETRY_AFTER
        seconds = moment.timestamp() - (time.time() if now is None else now)
    return min(MAX_RETRY_AFTER, max(1.0, seconds))


def _said(answer: bytes) -> str:
    text = answer.decode("utf-8", "replace").strip().replace("\n", " ")
    return text[:200] or "no explanation"
