"""The architecture, checked: the core imports no hardware and no dashboard
(the composition root ``earmark.app`` is the one exception); the device
adapters reach the core only through actions, config, errors and events;
playback knows nothing of sync; SQL lives in ``store/`` only; the composition
root stays thin.

import-linter cannot check this here: its graph follows folders, and our
package-dir mapping puts ``earmark.device`` outside ``earmark``'s folder.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
CORE, DEVICE = ROOT / "daemon", ROOT / "device"
DEVICE_MAY_USE = (
    "earmark.actions",
    "earmark.config",
    "earmark.errors",
    "earmark.events",
    "earmark.device",
)
# an SQL statement in a string: a keyword at the start, then what only SQL says next
SQL = re.compile(
    r"^\s*(SELECT\s.+\sFROM\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s"
    r"|CREATE\s+(TABLE|INDEX)\s|BEGIN\b|PRAGMA\s)",
    re.DOTALL,
)


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_module_imports_no_hardware_or_dashboard(path: Path) -> None:
    if path in (CORE / "app.py", CORE / "cli_dashboard.py", CORE / "cli.py"):
        return  # the composition roots: the speaker's and the CLI's wire device/ in, the
        # dashboard's its own
    bad = {
        name for name in imports(path) if name.startswith(("earmark.device", "earmark.dashboard"))
    }
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize(
    "path", sorted((ROOT / "dashboard").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_the_dashboard_takes_only_the_payload_schema_from_the_core(path: Path) -> None:
    """It runs on another machine, fed by MQTT: it must not reach into a speaker."""
    allowed = ("earmark.payloads", "earmark.errors", "earmark.dashboard")
    bad = {
        name
        for name in imports(path)
        if name.startswith("earmark") and not name.startswith(allowed)
    }
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize(
    "path", sorted(DEVICE.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_device_adapter_reaches_the_core_only_through_actions_and_config(path: Path) -> None:
    bad = {
        name
        for name in imports(path)
        if name.startswith("earmark") and not name.startswith(DEVICE_MAY_USE) and name != "earmark"
    }
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_only_the_owning_modules_import_their_library() -> None:
    owners = {
        "mpv": {"daemon/player/mpv_core.py"},
        "paho": {"daemon/sync/mqtt.py"},
        "faster_whisper": {"daemon/transcribe/local.py"},
        "feedparser": {"daemon/library/feeds.py"},
        "gpiozero": {"device/gpio.py"},
        "evdev": {"device/evdev_io.py"},
        "dbus_fast": {"device/bluetooth.py", "device/pairing_agent.py"},
    }
    for library, allowed in owners.items():
        users = {
            str(p.relative_to(ROOT))
            for folder in (CORE, DEVICE)
            for p in folder.rglob("*.py")
            if any(n == library or n.startswith(library + ".") for n in imports(p))
        }
        assert users <= allowed, f"{library} imported by {sorted(users - allowed)}"


@pytest.mark.parametrize(
    "path", sorted((CORE / "playback").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_playback_imports_nothing_from_sync(path: Path) -> None:
    bad = {name for name in imports(path) if name.startswith("earmark.sync")}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def sql_strings(path: Path) -> list[str]:
    return [
        node.value
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value)
    ]


@pytest.mark.parametrize(
    "path",
    sorted(p for p in CORE.rglob("*.py") if "store" not in p.relative_to(CORE).parts),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_sql_lives_only_in_the_store(path: Path) -> None:
    assert not sql_strings(path), f"{path.relative_to(ROOT)} holds SQL: {sql_strings(path)}"


def test_the_sql_check_finds_sql(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        'q = "SELECT id FROM jobs WHERE x = 1"\n'
        'u = "UPDATE jobs SET status = 1"\n'
        "doc = 'select a listener from the list'\n"
    )
    assert sql_strings(sample) == ["SELECT id FROM jobs WHERE x = 1", "UPDATE jobs SET status = 1"]


def test_the_composition_root_stays_thin() -> None:
    lines = (CORE / "app.py").read_text().splitlines()
    assert len(lines) <= 250
    assert not sql_strings(CORE / "app.py")


def test_every_package_is_installed() -> None:
    """A package missing from pyproject's list works in the editable venv and is
    left out of a real install."""
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    folders = {"earmark": CORE, "earmark.device": DEVICE, "earmark.dashboard": ROOT / "dashboard"}
    found = {
        ".".join([name, *init.parent.relative_to(folder).parts])
        for name, folder in folders.items()
        for init in folder.rglob("__init__.py")
    }
    assert found <= listed, sorted(found - listed)


def test_every_project_exception_is_an_earmark_error() -> None:
    """The CLI turns an EarmarkError into one line and an exit code; any other
    exception is a traceback, so the project raises no other kind."""
    import importlib
    import inspect

    from earmark.errors import EarmarkError

    outside = []
    for folder, package in ((CORE, "earmark"), (DEVICE, "earmark.device")):
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__main__":
                continue  # importing it runs the CLI
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            module = importlib.import_module(".".join([package, *parts]))
            for _, cls in inspect.getmembers(module, inspect.isclass):
                ours = cls.__module__ == module.__name__ and issubclass(cls, BaseException)
                if ours and not issubclass(cls, EarmarkError):
                    outside.append(f"{module.__name__}.{cls.__name__}")
    assert not outside, outside


def test_one_function_decides_what_is_a_stream() -> None:
    from earmark.library.sources import is_stream

    assert is_stream("https://example.org/a.mp3") and is_stream("http://h/p.php?id=1")
    assert not is_stream("/var/lib/earmark/episodes/a.mp3")
    assert not is_stream("file:///var/lib/earmark/a.mp3")
    deciders = [
        str(path.relative_to(ROOT))
        for path in CORE.rglob("*.py")
        if path != CORE / "library" / "sources.py" and '"://"' in path.read_text()
    ]
    assert not deciders, deciders
