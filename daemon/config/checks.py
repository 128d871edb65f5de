"""The checks a config section runs on its own values, naming the option that is wrong.

A section's ``__post_init__`` raises :class:`OptionError` with the option's name; the
loader turns it into a ConfigError at that option's line in the file.
"""

from __future__ import annotations

import enum
import re
from typing import Any, TypeVar

from earmark.errors import EarmarkError

Choice = TypeVar("Choice", bound=enum.StrEnum)

PORTS = (1, 65535)
# MQTT wildcards and the NUL character cannot appear in a topic name
_TOPIC_BREAKERS = {"+": "a '+'", "#": "a '#'", "\0": "a NUL character"}


class OptionError(EarmarkError, ValueError):
    """One option of a section has a value it may not have."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option
        self.message = message


def allowed(kind: type[enum.StrEnum]) -> str:
    return ", ".join(member.value for member in kind)


def choose(section: Any, option: str, kind: type[Choice]) -> None:
    """Turn ``section.option`` into a member of ``kind`` (a plain string is welcome)."""
    value = getattr(section, option)
    try:
        member = kind(value)
    except ValueError:
        raise OptionError(option, f"'{value}' is not one of: {allowed(kind)}") from None
    object.__setattr__(section, option, member)  # the sections are frozen


def between(option: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:  # written so that NaN fails too
        raise OptionError(option, f"must be between {low} and {high}, got {value}")


def at_least(option: str, value: float, low: float) -> None:
    if not value >= low:
        raise OptionError(option, f"must be at least {low}, got {value}")


def above(option: str, value: float, low: float) -> None:
    if not value > low:
        raise OptionError(option, f"must be above {low}, got {value}")


def topic_level(option: str, value: str) -> None:
    """``value`` is one level of an MQTT topic (e.g. the device id)."""
    if "/" in value:
        raise OptionError(option, f"'{value}' must not contain '/' (it is one topic level)")
    topic_prefix(option, value)


def topic_prefix(option: str, value: str) -> None:
    """``value`` is the start of MQTT topics: levels joined by '/', none of them empty."""
    for character, name in _TOPIC_BREAKERS.items():
        if character in value:
            raise OptionError(option, f"{value!r} must not contain {name} (it breaks MQTT topics)")
    if "" in value.split("/"):
        raise OptionError(option, f"'{value}' must not be empty or have an empty topic level")


# an ISO 639 code as Whisper names languages ("de", "haw"); a region is not a language
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")


def language(option: str, value: str) -> None:
    """``value`` is "auto" or a lowercase language code."""
    if value != "auto" and not _LANGUAGE_CODE.fullmatch(value):
        raise OptionError(
            option, f"'{value}' is not a language code; use one such as en or de, or auto"
        )


def at_most(option: str, value: float, high: float) -> None:
    if not value <= high:
        raise OptionError(option, f"must be at most {high}, got {value}")
