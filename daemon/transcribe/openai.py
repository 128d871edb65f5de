"""A client for an OpenAI-compatible ``POST {url}/audio/transcriptions`` endpoint
(OpenAI, faster-whisper-server / speaches, whisper.cpp server, LocalAI ...).

Standard library only: the request is one multipart body built by hand. We ask
for ``verbose_json`` with word and segment timestamps; a server that ignores
that and answers only ``{"text": ...}`` still works, as one segment spanning
the audio (sentence snapping then falls back to that segment's edges).
"""

from __future__ import annotations

import bisect
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from earmark.config.model import TranscriptionConfig
from earmark.errors import TranscriberError
from earmark.transcribe.base import Segment, TranscribeRequest, Transcript, Word
from earmark.transcribe.pcm import pcm_seconds, read_pcm, wav_bytes


def multipart_body(
    fields: Sequence[tuple[str, str]], file_field: str, filename: str, content: bytes
) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type header value."""
    boundary = f"earmark-{uuid.uuid4().hex}"
    parts: list[bytes] = []
    for name, value in fields:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
        f'filename="{filename}"\r\nContent-Type: audio/wav\r\n\r\n'.encode()
        + content
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class OpenAITranscriber:
    name = "openai"

    def __init__(
        self,
        url: str,
        *,
        model: str = "whisper-1",
        api_key: str | None = None,
        timeout: float = 120.0,
        language: str | None = "en",
    ) -> None:
        self.endpoint = url.rstrip("/") + "/audio/transcriptions"
        self.model = model
        self._api_key = api_key
        self.timeout = timeout
        self.language = None if language in (None, "", "auto") else language

    @classmethod
    def from_config(cls, config: TranscriptionConfig) -> OpenAITranscriber:
        o = config.openai
        return cls(
            o.url, model=o.model, api_key=o.api_key, timeout=o.timeout, language=config.language
        )

    def transcribe(self, request: TranscribeRequest) -> Transcript:
        pcm = read_pcm(request, timeout=self.timeout)
        language = request.language or self.language
        fields = [("model", self.model), ("response_format", "verbose_json")]
        if request.word_timestamps:
            fields += [("timestamp_granularities[]", "word")]
        fields += [("timestamp_granularities[]", "segment")]
        if language:
            fields.append(("language", language))
        fields += sorted(request.extra.items())
        body, content_type = multipart_body(fields, "file", "audio.wav", wav_bytes(pcm))
        answer = self._post(body, content_type)
        segments = parse_verbose_json(answer, pcm_seconds(pcm))
        return Transcript(
            segments=segments,
            language=_language(answer.get("language")) or language,
            model=self.model,
            source=self.name,
        ).shifted(request.offset)

    def _post(self, body: bytes, content_type: str) -> dict[str, Any]:
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        call = urllib.request.Request(self.endpoint, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(call, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = _error_detail(exc)
            raise TranscriberError(
                f"speech endpoint {self.endpoint} answered HTTP {exc.code}{detail}; "
                "check transcription.openai (url, model, api_key) and the server's log"
            ) from exc
        except TimeoutError as exc:
            raise TranscriberError(
                f"speech endpoint {self.endpoint} did not answer within {self.timeout:.0f}s; "
                "check the server or raise transcription.openai.timeout"
            ) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                raise TranscriberError(
                    f"speech endpoint {self.endpoint} did not answer within "
                    f"{self.timeout:.0f}s; check the server or raise transcription.openai.timeout"
                ) from exc
            raise TranscriberError(
                f"cannot reach speech endpoint {self.endpoint} ({reason}); "
                "check transcription.openai.url"
            ) from exc
        try:
            answer = json.loads(raw)
        except ValueError as exc:
            raise TranscriberError(
                f"speech endpoint {self.endpoint} did not answer JSON; "
                "check that transcription.openai.url is an OpenAI-compatible API"
            ) from exc
        if not isinstance(answer, dict) or not isinstance(answer.get("text", ""), str):
            raise TranscriberError(
                f"speech endpoint {self.endpoint} answered JSON without a transcript; "
                "check that transcription.openai.url is an OpenAI-compatible API"
            )
        return answer

    def close(self) -> None:
        """Nothing to release: each transcription is one HTTP request."""


def parse_verbose_json(answer: dict[str, Any], seconds: float) -> tuple[Segment, ...]:
    """Segments with their words from a verbose_json answer; plain ``text`` as one segment."""
    try:
        words = sorted(_words(answer.get("words") or ()), key=lambda w: w.start)
        raw_segments = answer.get("segments") or ()
        segments = [
            (float(s["start"]), float(s["end"]), str(s.get("text", "")).strip())
            for s in raw_segments
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise TranscriberError(
            f"speech endpoint answered verbose_json with malformed segments or words ({exc}); "
            "check the server's version"
        ) from exc
    text = str(answer.get("text") or "").strip()
    if not segments:
        if not text:
            return ()
        return (Segment(0.0, seconds, text, tuple(words)),)
    # OpenAI gives words for the whole request, not per segment: a word belongs
    # to the last segment that starts at or before its midpoint
    starts = [start for start, _, _ in segments]
    owned: list[list[Word]] = [[] for _ in segments]
    for w in words:
        owned[max(0, bisect.bisect_right(starts, (w.start + w.end) / 2) - 1)].append(w)
    return tuple(
        Segment(start, end, seg_text, tuple(mine))
        for (start, end, seg_text), mine in zip(segments, owned, strict=True)
        if seg_text
    )


def _words(raw: Iterable[Any]) -> Iterable[Word]:
    for w in raw:
        text = str(w.get("word", w.get("text", ""))).strip()
        if text:
            yield Word(float(w["start"]), float(w["end"]), text)


def _language(value: object) -> str | None:
    # OpenAI answers the language's English name ("english"); keep codes only
    if isinstance(value, str) and 2 <= len(value) <= 3:
        return value
    if value == "english":
        return "en"
    return None


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read() or b"{}")
        message = body.get("error", {}).get("message") if isinstance(body, dict) else None
    except (ValueError, AttributeError, OSError):
        message = None
    return f" ({str(message).splitlines()[0][:200]})" if message else ""


def build(config: TranscriptionConfig) -> OpenAITranscriber:
    return OpenAITranscriber.from_config(config)
