"""A real local HTTP server that speaks OpenAI's chat completions contract
(``POST /v1/chat/completions``), scripted by the test.

It validates requests as OpenAI does (400 with ``{"error": {"message", "type",
"param", "code"}}`` for a missing or mistyped field, 401 for a wrong bearer key,
404 for an unknown model or path), records every request it got, and answers
valid ones from a queue of :class:`Behaviour`: a message, an HTTP error, a
hang, a trickle, prose, a truncated or filtered answer. A behaviour may also be
a function of the request, for a server that reads the prompt.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ROLES = ("system", "assistant", "user", "function", "tool", "developer")
RESPONSE_FORMATS = ("text", "json_object", "json_schema")
ERROR_TYPES = {401: "invalid_request_error", 429: "requests"}


@dataclass(frozen=True)
class Behaviour:
    """What the server does with the next valid request."""

    content: str | None = None
    finish_reason: str = "stop"
    refusal: str | None = None
    # an error status answers an OpenAI error object with this message
    status: int = 200
    message: str = "The server had an error while processing your request."
    headers: Mapping[str, str] = field(default_factory=dict)
    # wait this long before answering (the server's stop ends the wait)
    hang: float = 0.0
    # send the headers, then one byte every 0.2 s and never the end of the body
    trickle: bool = False


Script = Behaviour | Callable[["ChatRequest"], Behaviour]


def answer(content: str) -> Behaviour:
    return Behaviour(content=content)


def answer_json(title: str, quote_sentence: object, takeaways: object) -> Behaviour:
    fields = {"title": title, "quote_sentence": quote_sentence, "takeaways": takeaways}
    return Behaviour(content=json.dumps(fields))


def fail(status: int, message: str | None = None, retry_after: str | None = None) -> Behaviour:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Behaviour(status=status, message=message or Behaviour.message, headers=headers)


def hang(seconds: float) -> Behaviour:
    return Behaviour(content="{}", hang=seconds)


def trickle() -> Behaviour:
    return Behaviour(trickle=True)


def truncated(content: str) -> Behaviour:
    return Behaviour(content=content, finish_reason="length")


def content_filter() -> Behaviour:
    return Behaviour(content=None, finish_reason="content_filter")


@dataclass
class ChatRequest:
    """One request as the server got it, and the status it answered."""

    method: str
    path: str
    authorization: str | None
    body: Any
    status: int = 0

    def message(self, role: str) -> str:
        return "\n".join(m["content"] for m in self.body["messages"] if m["role"] == role)


class ChatServer:
    """``models`` maps each name the server accepts to the name it reports in
    answers (OpenAI answers a dated snapshot for an alias)."""

    def __init__(
        self,
        models: Mapping[str, str] | None = None,
        api_key: str | None = None,
        refuse_response_format: bool = False,
    ) -> None:
        self.models = dict(models or {"tiny-chat": "tiny-chat-q4"})
        self.api_key = api_key
        # some servers (older llama.cpp builds, some proxies) answer 400 to response_format
        self.refuse_response_format = refuse_response_format
        self.requests: list[ChatRequest] = []
        self._queue: deque[Script] = deque()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._httpd = _Httpd(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}/v1"

    def script(self, *behaviours: Script) -> None:
        """Answer the next valid requests with these, in order."""
        with self._lock:
            self._queue.extend(behaviours)

    def _serve(self) -> None:
        # a short poll keeps stop() quick
        self._httpd.serve_forever(poll_interval=0.05)

    def start(self) -> ChatServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what the handler asks -------------------------------------------------------

    def _error(self, request: ChatRequest) -> tuple[int, str, str | None, str | None] | None:
        """OpenAI's answer to an invalid request: status, message, param, code."""
        if request.method != "POST" or request.path != "/v1/chat/completions":
            return 404, f"Invalid URL ({request.method} {request.path})", None, None
        if self.api_key is not None:
            if not request.authorization:
                return 401, "You didn't provide an API key.", None, None
            if request.authorization != f"Bearer {self.api_key}":
                return 401, "Incorrect API key provided.", None, "invalid_api_key"
        body = request.body
        if not isinstance(body, dict):
            return 400, "We could not parse the JSON body of your request.", None, None
        if "model" not in body:
            return 400, "you must provide a model parameter", None, None
        for name, kind, wanted in (
            ("model", str, "a string"),
            ("messages", list, "an array"),
            ("temperature", (int, float), "a decimal"),
            ("max_tokens", int, "an integer"),
            ("response_format", dict, "an object"),
        ):
            if name == "messages" and name not in body:
                message = "Missing required parameter: 'messages'."
                return 400, message, "messages", "missing_required_parameter"
            value = body.get(name)
            if name in body and (not isinstance(value, kind) or isinstance(value, bool)):
                message = f"Invalid type for '{name}': expected {wanted}."
                return 400, message, name, "invalid_type"
        if not body["messages"]:
            return 400, "Invalid 'messages': empty array.", "messages", "empty_array"
        for i, m in enumerate(body["messages"]):
            if not isinstance(m, dict) or m.get("role") not in ROLES:
                return 400, "Invalid value for 'role'.", f"messages[{i}].role", "invalid_value"
            if not isinstance(m.get("content"), str | list):
                message = f"Invalid type for 'messages[{i}].content'."
                return 400, message, f"messages[{i}].content", "invalid_type"
        if not 0 <= body.get("temperature", 1) <= 2:
            return 400, "Invalid 'temperature'.", "temperature", "invalid_value"
        if body.get("max_tokens", 1) < 1:
            return 400, "Invalid 'max_tokens'.", "max_tokens", "invalid_value"
        response_format = body.get("response_format")
        if response_format is not None:
            if response_format.get("type") not in RESPONSE_FORMATS:
                message = "Invalid value for 'response_format.type'."
                return 400, message, "response_format.type", "invalid_value"
            if self.refuse_response_format:
                message = "response_format is not supported by this server"
                return 400, message, "response_format", None
        if body["model"] not in self.models:
            message = f"The model `{body['model']}` does not exist or you do not have access to it."
            return 404, message, None, "model_not_found"
        return None

    def _next(self, request: ChatRequest) -> Behaviour:
        with self._lock:
            script = self._queue.popleft() if self._queue else None
        if script is None:
            return fail(500, "the test scripted no answer for this request")
        return script(request) if callable(script) else script

    def _completion(self, request: ChatRequest, behaviour: Behaviour) -> dict[str, Any]:
        prompt = sum(len(str(m.get("content", "")).split()) for m in request.body["messages"])
        written = len((behaviour.content or "").split())
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.models[request.body["model"]],
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": behaviour.content,
                        "refusal": behaviour.refusal,
                    },
                    "logprobs": None,
                    "finish_reason": behaviour.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": written,
                "total_tokens": prompt + written,
            },
        }


class _Httpd(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timed-out test) is expected, not an error."""


def _handler(server: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self._serve()

        def do_GET(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            request = ChatRequest(self.command, self.path, self.headers["Authorization"], body)
            with server._lock:
                server.requests.append(request)
            error = server._error(request)
            if error:
                status, message, param, code = error
                return self._error(request, status, message, param, code)
            behaviour = server._next(request)
            if behaviour.hang and server._stopped.wait(behaviour.hang):
                return
            if behaviour.status != 200:
                status, message = behaviour.status, behaviour.message
                return self._error(request, status, message, None, None, behaviour.headers)
            if behaviour.trickle:
                return self._trickle(request)
            request.status = 200
            self._send(200, server._completion(request, behaviour), behaviour.headers)

        def _error(
            self,
            request: ChatRequest,
            status: int,
            message: str,
            param: str | None,
            code: str | None,
            headers: Mapping[str, str] | None = None,
        ) -> None:
            kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else None)
            error = {
                "message": message,
                "type": kind or "invalid_request_error",
                "param": param,
                "code": code,
            }
            request.status = status
            self._send(status, {"error": error}, headers or {})

        def _trickle(self, request: ChatRequest) -> None:
            request.status = 200
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not server._stopped.wait(0.2):
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except OSError:
                    return

        def _send(self, status: int, payload: object, headers: Mapping[str, str]) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up first

    return Handler
