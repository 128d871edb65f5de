"""The ``earmark`` command: run the daemon, and talk to it.

Every user-facing failure is one line on stderr and an exit code (2 for
configuration mistakes, 3 when no daemon answers); tracebacks are for bugs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from earmark import __version__, config
from earmark.cli_dashboard import add_commands as add_dashboard_commands
from earmark.cli_export import add_commands as add_export_commands
from earmark.cli_highlights import add_commands as add_highlight_commands
from earmark.cli_library import add_commands as add_library_commands
from earmark.device.headphones_cli import add_commands as add_headphones_commands
from earmark.errors import EarmarkError, NotRunningError

Command = Callable[[argparse.Namespace], int]


def _load(args: argparse.Namespace) -> config.Config:
    return config.load(args.config)


def cmd_run(args: argparse.Namespace) -> int:
    from earmark import app, logs
    from earmark.config.secrets import refuse_exposed

    cfg = _load(args)
    refuse_exposed(args.config or config.default_config_path(), cfg)
    logs.setup(cfg.log_level, args.verbose)
    code = app.run(cfg)
    if any(t.daemon and t.is_alive() for t in threading.enumerate()):
        # the speaker stopped and closed its store; a thread it walked away from (a
        # transcription inside ctranslate2, a read from a silent server) must neither
        # hold up the exit nor crash the interpreter's teardown (SIGABRT)
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _request(
    args: argparse.Namespace, command: str, timeout: float = 10.0, **params: Any
) -> dict[str, Any]:
    from earmark import control

    cfg = _load(args)
    reply = control.request(cfg.socket_path, command, timeout, **params)
    if not reply.get("ok"):
        raise EarmarkError(reply.get("error", "the daemon refused the command"))
    return reply


def cmd_snip(args: argparse.Namespace) -> int:
    reply = _request(args, "snip")
    verb = "saved" if reply.get("new") else "extended"
    print(
        f"snip {verb} id={reply['id']} episode={reply['episode']!r} "
        f"window={reply['start']:.1f}-{reply['end']:.1f}s"
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    reply = _request(args, "status")
    reply.pop("ok", None)
    print(json.dumps(reply, indent=2) if args.json else _format_status(reply))
    return 0


def _format_status(status: dict[str, Any]) -> str:
    player = status.get("player", {})
    why = f" ({player['paused_for']})" if player.get("paused_for") else ""  # not by the listener
    lines = [
        f"player:     {player.get('status')}{why} {player.get('episode') or ''}".rstrip(),
        f"position:   {player.get('position', 0):.1f}s of {player.get('duration') or 0:.1f}s",
        f"mqtt:       {'connected' if status.get('mqtt_connected') else 'not connected'}"
        f" (outbox waiting: {status.get('outbox_pending', 0)})",
        f"highlights: {status.get('highlights', 0)}  jobs waiting: {status.get('jobs_waiting', 0)}",
    ]
    for target, held in (status.get("exports") or {}).items():
        parked = f"  PARKED: {held['parked']}" if held.get("parked") else ""
        lines.append(f"export:     {target} holds {held.get('items', 0)}{parked}")
    if player.get("nothing_to_play"):
        lines.append(f"note:       nothing to play: {player['nothing_to_play']}")
    return "\n".join(lines)


def cmd_player(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {}
    if args.value is not None:
        params["position" if args.command == "seek" else "value"] = args.value
    reply = _request(args, args.command.replace("-", "_"), **params)
    print(reply.get("message", "ok"))
    return 0


def cmd_sleep(args: argparse.Namespace) -> int:
    when: Any = args.when if args.when in ("end", "off") else _float(args.when, "minutes")
    print(_request(args, "sleep", minutes=when)["message"])
    return 0


def _float(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise EarmarkError(f"{what} must be a number, 'end' or 'off', not {text!r}") from None


def cmd_queue(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"op": args.op}
    if args.episode_id is not None:
        params["episode_id"] = args.episode_id
    if args.index is not None:
        params["index"] = args.index
    reply = _request(args, "queue", **params)
    for item in reply["queue"]:
        marker = ">" if item["current"] else " "
        print(f"{marker} {item['episode_id']:>4}  {item['title']}")
    if not reply["queue"]:
        print("the queue is empty")
    return 0


def cmd_highlights(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {}
    if args.episode is not None:
        params["episode_id"] = args.episode
    if args.podcast is not None:
        params["podcast"] = args.podcast
    print(_request(args, "highlights", **params)["message"])
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    from earmark.config.secrets import exposure
    from earmark.doctor import check_transcriber

    cfg = _load(args)
    check_transcriber(cfg.transcription, args.config)
    where = args.config or config.default_config_path()
    warning = exposure(Path(where), cfg)
    if warning:
        print(f"earmark: warning: {where}: {warning}", file=sys.stderr)
    print(f"config OK: {where if Path(where).exists() else 'built-in defaults'}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from earmark import app, doctor

    cfg = _load(args)
    return doctor.run(cfg, print, extra=app.doctor_checks())


def cmd_jobs(args: argparse.Namespace) -> int:
    from earmark import control

    cfg = _load(args)
    try:
        jobs = control.request(cfg.socket_path, "jobs", limit=args.limit)["jobs"]
    except NotRunningError:
        jobs = _jobs_read_only(cfg, args.limit)  # no daemon: read the file, change nothing
    if not jobs:
        print("no jobs")
    for job in jobs:
        episode = f"episode {job['episode_id']}" if job["episode_id"] else ""
        target = job["highlight_id"] or episode
        error = f"  last error: {job['last_error']}" if job["last_error"] else ""
        print(
            f"{job['id']:>5} {job['kind']:<11} {job['status']:<8} "
            f"attempts={job['attempts']} {target}{error}"
        )
    return 0


def _jobs_read_only(cfg: config.Config, limit: int) -> list[dict[str, Any]]:
    from earmark.commands import job_listing
    from earmark.store.database import Database
    from earmark.store.jobs import JobQueue

    if not cfg.database_path.exists():
        return []
    db = Database(cfg.database_path, read_only=True)
    try:
        return [job_listing(job) for job in JobQueue(db).list(limit=limit)]
    finally:
        db.close()


def cmd_retry(args: argparse.Namespace) -> int:
    try:
        print(_request(args, "retry", job_id=args.job_id)["message"])
    except NotRunningError:
        raise NotRunningError(
            "earmark is not running; a failed job is retried through the daemon: "
            "start it (`earmark run` or systemctl start earmark), then retry"
        ) from None
    return 0


def cmd_resync(args: argparse.Namespace) -> int:
    from earmark.sync.relay import since_utc

    since_utc(args.since)  # a mistake is refused here, daemon or not
    params = {"since": args.since} if args.since is not None else {}
    print(_request(args, "resync", **params)["message"])
    return 0


def cmd_ha_remove(args: argparse.Namespace) -> int:
    try:  # the running daemon clears it and stops announcing it
        print(_request(args, "ha_remove")["message"])
    except NotRunningError:
        from earmark.sync.discovery import remove_device

        print(remove_device(_load(args)))
    return 0


def cmd_inputs(args: argparse.Namespace) -> int:
    from earmark import app

    cfg = _load(args)
    return app.watch_inputs(cfg)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="earmark", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"earmark {__version__}")
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        default=None,
        help="config file (default: $EARMARK_CONFIG, /etc/earmark/earmark.yaml "
        "as root, else ~/.config/earmark/earmark.yaml)",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Command, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(handler=handler)
        return p

    add("run", cmd_run, "run the speaker (the daemon)")
    add("snip", cmd_snip, "save the moment now on the running daemon")
    add("status", cmd_status, "what the running daemon is doing").add_argument(
        "--json", action="store_true"
    )
    for name, text in (
        ("play", "resume playback"),
        ("pause", "pause playback"),
        ("toggle", "play or pause"),
        ("next", "next episode in the queue"),
        ("previous", "previous episode"),
        ("skip-back", "jump back"),
        ("skip-forward", "jump forward"),
    ):
        add(name, cmd_player, text).set_defaults(value=None)
    add("seek", cmd_player, "jump to a position (seconds)").add_argument("value", type=float)
    add("speed", cmd_player, "playback speed 0.5-3.0 (kept for this podcast)").add_argument(
        "value", type=float
    )
    add("volume", cmd_player, "volume 0-100").add_argument("value", type=float)
    add("continue", cmd_player, "leave the highlight reel: play on from this snip").set_defaults(
        value=None
    )
    add("sleep", cmd_sleep, "sleep timer: MINUTES, 'end' (of episode) or 'off'").add_argument(
        "when"
    )
    queue = add("queue", cmd_queue, "the up-next queue: list, add, remove, move")
    queue.add_argument("op", nargs="?", default="list", choices=("list", "add", "remove", "move"))
    queue.add_argument("episode_id", nargs="?", type=int)
    queue.add_argument("index", nargs="?", type=int)
    add_library_commands(add, _request)
    add_highlight_commands(add, _request)
    add_dashboard_commands(add, _load)
    add_export_commands(add, _load)
    add_headphones_commands(add)
    reel = add("highlights", cmd_highlights, "play saved snips one after another")
    reel.add_argument("--episode", type=int, help="only this episode's")
    reel.add_argument("--podcast", help="only this podcast's (by title)")
    check = add("config", lambda a: 2, "configuration")
    check_sub = check.add_subparsers(dest="config_command", required=True, metavar="check")
    check_sub.add_parser("check", help="validate the config file").set_defaults(
        handler=cmd_config_check
    )
    add("doctor", cmd_doctor, "check mpv, broker, model, data dir, audio and inputs")
    add("jobs", cmd_jobs, "list the snip pipeline's jobs").add_argument(
        "--limit", type=int, default=50
    )
    add("retry", cmd_retry, "run a failed job again").add_argument("job_id", type=int)
    again = add("resync", cmd_resync, "publish the highlights again, for a dashboard that was away")
    again.add_argument("--since", metavar="ISO", help="only those changed since then (UTC)")
    ha = add("ha", lambda a: 2, "Home Assistant")
    ha_sub = ha.add_subparsers(dest="ha_command", required=True, metavar="remove")
    ha_sub.add_parser("remove", help="remove this speaker from Home Assistant").set_defaults(
        handler=cmd_ha_remove
    )
    add("inputs", cmd_inputs, "show input devices and the keys they send").add_argument(
        "--watch", action="store_true", required=True
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = int(args.handler(args))
        sys.stdout.flush()  # a closed pipe shows here, inside the try, not at exit
        return code
    except BrokenPipeError:
        # `earmark jobs | head -1`: the reader has what it wanted; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except EarmarkError as exc:
        print(f"earmark: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
