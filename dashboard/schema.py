"""Every payload from the broker, checked against the shared typed schema
(``earmark.payloads``) before it is stored: the dataclass's field types are
the contract, so a field of the wrong type, an unknown schema version or a
string far longer than any speaker writes is refused with one line."""

from __future__ import annotations

import json
import math
import types
import typing
from dataclasses import MISSING, fields
from typing import Any, TypeVar

from earmark.payloads import (
    SCHEMA,
    EpisodePayload,
    ExportsPayload,
    HighlightPayload,
    StatePayload,
)

T = TypeVar("T", HighlightPayload, StatePayload, EpisodePayload, ExportsPayload)

# a highlight is a few KB (a snip's transcript); anything near this is not one
MAX_PAYLOAD_BYTES = 512 * 1024
# the longest string a speaker writes in a field that is not a transcript or note
MAX_FIELD_CHARS = 2_000
LONG_FIELDS = {"transcript": 100_000, "note": 10_000, "error": 4_000, "summary_fallback": 4_000}
MAX_ITEMS = 200


class PayloadError(ValueError):
    """A payload that is not what the schema says; the message is one line."""


def parse(cls: type[T], data: bytes) -> T:
    if len(data) > MAX_PAYLOAD_BYTES:
        raise PayloadError(
            f"{len(data):,} bytes is over the {MAX_PAYLOAD_BYTES:,} a payload may be"
        )
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise PayloadError("not a JSON object")
    if raw.get("schema") != SCHEMA:
        raise PayloadError(f"schema {_shown(raw.get('schema'))} is not {SCHEMA}")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in raw:
            if f.default is MISSING and f.default_factory is MISSING:
                raise PayloadError(f"'{f.name}' is missing")
            continue
        values[f.name] = _check(f.name, raw[f.name], hints[f.name])
    return cls(**values)  # fields this version does not know are left out


def _check(name: str, value: Any, kind: Any) -> Any:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (kind,) = [a for a in args if a is not type(None)]
        return _check(name, value, kind)
    if origin is list:
        if not isinstance(value, list) or len(value) > MAX_ITEMS:
            raise PayloadError(f"'{name}' must be a list of at most {MAX_ITEMS}")
        return [_check(f"{name}[{i}]", item, args[0]) for i, item in enumerate(value)]
    if origin is dict or kind is dict:
        if not isinstance(value, dict):
            raise PayloadError(f"'{name}' must be an object")
        return {str(k): _scalar(f"{name}.{k}", v) for k, v in value.items()}
    if kind is bool:
        if not isinstance(value, bool):
            raise PayloadError(f"'{name}' must be true or false, got {_shown(value)}")
        return value
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PayloadError(f"'{name}' must be a number, got {_shown(value)}")
        if kind is int and not isinstance(value, int):
            raise PayloadError(f"'{name}' must be a whole number, got {_shown(value)}")
        if not math.isfinite(value):
            raise PayloadError(f"'{name}' must be a finite number, got {value}")
        return value
    if kind is str:
        return _text(name, value)
    raise PayloadError(f"'{name}' has a type the dashboard cannot check")  # a schema bug


def _scalar(name: str, value: Any) -> Any:
    if isinstance(value, str):
        return _text(name, value)
    if isinstance(value, float) and not math.isfinite(value):
        raise PayloadError(f"'{name}' must be a finite number, got {value}")
    if value is None or isinstance(value, (int, float, bool)):
        return value
    raise PayloadError(f"'{name}' must be a string or a number")


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise PayloadError(f"'{name}' must be a string, got {_shown(value)}")
    limit = LONG_FIELDS.get(name.split("[")[0], MAX_FIELD_CHARS)
    if len(value) > limit:
        raise PayloadError(f"'{name}' is {len(value):,} characters, over {limit:,}")
    return value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
