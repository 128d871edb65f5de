"""Load YAML into typed, frozen dataclasses, naming the file, line and key of
every mistake.

The YAML is composed into nodes (not plain dicts) so that each value keeps its
line number; the dataclass fields are the schema, their defaults the defaults.
A plain scalar keeps the word as written where YAML 1.1 would read a boolean
(``lookahead: off``, ``language: no``): options of text or of choices take the word.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import os
import pwd
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from earmark.config.checks import OptionError
from earmark.errors import ConfigError

T = TypeVar("T")


def load_file(path: Path, schema: type[T], named_by: str | None = None) -> T:
    """The config in ``path``; ``named_by`` is where the path came from (an
    environment variable), said when the file is missing."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if named_by:
            message = (
                f"file not found (named by {named_by}); "
                f"copy config/earmark.example.yaml there or unset {named_by}"
            )
        else:
            message = "file not found; copy config/earmark.example.yaml"
        raise ConfigError(str(path), message) from None
    except PermissionError:
        message = (
            f"cannot read: permission denied to {_user()}; make it readable by the user"
            " earmark runs as (e.g. chgrp earmark, chmod 640), the folders above it too"
        )
        raise ConfigError(str(path), message) from None
    except IsADirectoryError:
        raise ConfigError(str(path), "is a folder; name the config file in it") from None
    except OSError as exc:
        message = f"cannot read: {exc.strerror}; check the file and the disk it is on"
        raise ConfigError(str(path), message) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        message = f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
        raise ConfigError(str(path), message, line=line) from None
    return load_text(text, schema, str(path))


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def load_text(text: str, schema: type[T], origin: str = "<config>") -> T:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(origin, f"malformed YAML: {exc.problem}", line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(origin, f"malformed YAML: {exc}") from None
    if node is None:
        return schema()
    return _build(schema, node, origin, "")


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _fail(origin: str, node: yaml.Node, key: str, message: str) -> typing.NoReturn:
    raise ConfigError(origin, message, line=_line(node), key=key or None)


def _build(schema: type[T], node: yaml.Node, origin: str, key: str) -> T:
    if not isinstance(node, yaml.MappingNode):
        _fail(origin, node, key, f"expected a mapping of {schema.__name__} options")
    hints = typing.get_type_hints(schema)
    fields = {f.name: f for f in dataclasses.fields(schema)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    value_nodes: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        name = key_node.value
        full = _join(key, name)
        if name not in fields:
            known = ", ".join(sorted(fields))
            _fail(origin, key_node, full, f"unknown option (known here: {known})")
        values[name] = _convert(hints[name], value_node, origin, full)
        value_nodes[name] = value_node
    try:
        return schema(**values)
    except OptionError as exc:
        where = value_nodes.get(exc.option, node)
        _fail(origin, where, _join(key, exc.option), exc.message)
    except (TypeError, ValueError) as exc:
        _fail(origin, node, key, str(exc))


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else str(name)


def _convert(hint: Any, node: yaml.Node, origin: str, key: str) -> Any:
    origin_type = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin_type in (typing.Union, types.UnionType):
        if _is_null(node) and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _convert(inner[0], node, origin, key)
        raise TypeError(f"unsupported union in config schema at {key}")
    if dataclasses.is_dataclass(hint):
        return _build(hint, node, origin, key)  # type: ignore[arg-type]
    if origin_type in (list, tuple):
        if not isinstance(node, yaml.SequenceNode):
            _fail(origin, node, key, "expected a list")
        item = args[0]
        return tuple(_convert(item, n, origin, f"{key}[{i}]") for i, n in enumerate(node.value))
    if origin_type is dict:
        if not isinstance(node, yaml.MappingNode):
            _fail(origin, node, key, "expected a mapping")
        return {
            str(k.value): _convert(args[1], v, origin, f"{key}.{k.value}") for k, v in node.value
        }
    if not isinstance(node, yaml.ScalarNode):
        _fail(origin, node, key, f"expected a single value ({_describe(hint)})")
    if _takes_words(hint) and not _is_null(node):
        return _scalar(hint, node.value, node, origin, key)
    value = (
        yaml.safe_load(yaml.serialize(node)) if node.tag != "tag:yaml.org,2002:str" else node.value
    )
    return _scalar(hint, value, node, origin, key)


def _takes_words(hint: Any) -> bool:
    """Text and choices take a scalar as written: ``off`` stays the word, not false."""
    return hint is str or (isinstance(hint, type) and issubclass(hint, enum.StrEnum))


def _scalar(hint: Any, value: Any, node: yaml.Node, origin: str, key: str) -> Any:
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            choices = ", ".join(str(m.value) for m in hint)
            _fail(origin, node, key, f"'{value}' is not one of: {choices}")
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                _fail(origin, node, key, f"expected a finite number, got {node.value}")
            return float(value)
    elif hint is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    elif hint is Path:
        if isinstance(value, str) and value:
            return Path(value).expanduser()
    elif hint is Any:
        return value
    _fail(origin, node, key, f"expected {_describe(hint)}, got {value!r}")


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _describe(hint: Any) -> str:
    names = {
        bool: "true or false",
        int: "a whole number",
        float: "a number",
        str: "text",
        Path: "a path",
    }
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def line_of(path: Path, dotted_key: str) -> int | None:
    """The line where ``dotted_key`` (``a.b.c``) is set in the YAML file, if it is."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    for part in dotted_key.split("."):
        if not isinstance(node, yaml.MappingNode):
            return None
        for key_node, value_node in node.value:
            if key_node.value == part:
                line = _line(key_node)
                node = value_node
                break
        else:
            return None
    return line
