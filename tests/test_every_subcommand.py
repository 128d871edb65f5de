"""Every subcommand of ``earmark --help`` is known to a running daemon: none is
refused as unknown (``earmark toggle`` once always was)."""

from __future__ import annotations

import argparse

import pytest

from earmark.cli import build_parser

from .daemon_process import Daemon, earmark

# run in the CLI's own process, never sent to the daemon
LOCAL = {"run", "config", "doctor", "inputs", "dashboard", "export", "import", "headphones"}
ARGUMENTS = {
    "seek": ["5"],
    "speed": ["1.25"],
    "volume": ["60"],
    "sleep": ["off"],
    "retry": ["999999"],
    "jobs": ["--limit", "3"],
    "edit": ["0123456789abcdef", "--star"],
    "takeaways": ["--all"],
}
# what the daemon answers a command it does not know, or arguments outside the schema
REFUSALS = ("unknown command", "no daemon", "takes no argument", "must be")


def subcommands() -> list[str]:
    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(actions[0].choices)


def test_the_help_lists_the_player_commands() -> None:
    assert {"toggle", "snip", "status", "jobs", "retry", "seek"} <= set(subcommands())


@pytest.fixture
def daemon(garden_daemon: Daemon) -> Daemon:
    return garden_daemon


def test_no_subcommand_is_refused_as_unknown_by_a_running_daemon(daemon: Daemon) -> None:
    sent = [name for name in subcommands() if name not in LOCAL]
    refused = {}
    for name in sent:
        result = earmark(daemon.config, name, *ARGUMENTS.get(name, []))
        if any(refusal in result.stderr for refusal in REFUSALS):
            refused[name] = result.stderr.strip()
    assert not refused, refused
    assert len(sent) >= 15, sent


def test_toggle_pauses_a_playing_daemon(daemon: Daemon) -> None:
    result = earmark(daemon.config, "toggle")
    assert result.returncode == 0, result.stderr
    status = daemon.status()
    assert status is not None and status["player"]["status"] == "paused", status
