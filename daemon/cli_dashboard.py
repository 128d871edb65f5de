"""``earmark dashboard``: the dashboard's composition root. It reads the same
config file as the speaker (the broker, the topic prefix, the ``dashboard``
section) and hands the dashboard plain settings, so the dashboard itself needs
nothing from the core but the payload schema."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from dataclasses import replace

from earmark import config
from earmark.dashboard.security import hash_password
from earmark.dashboard.settings import Broker, Settings
from earmark.errors import EarmarkError

Command = Callable[[argparse.Namespace], int]
Load = Callable[[argparse.Namespace], config.Config]


def settings_from(cfg: config.Config) -> Settings:
    from earmark.sync.home_broker import broker_address

    address = broker_address(cfg.mqtt)
    d = cfg.dashboard
    return Settings(
        data_dir=d.data_dir or cfg.data_dir / "dashboard",
        host=d.host,
        port=d.port,
        broker=Broker(
            host=address.host,
            port=address.port,
            username=address.username,
            password=address.password,
            tls=address.tls,
            ca_file=address.ca_file,
            client_cert=address.client_cert,
            client_key=address.client_key,
            keepalive=address.keepalive,
        ),
        topic_prefix=cfg.mqtt.topic_prefix,
        password_hash=d.password_hash,
    )


def add_commands(add: Callable[[str, Command, str], argparse.ArgumentParser], load: Load) -> None:
    def dashboard(args: argparse.Namespace) -> int:
        if args.hash_password:
            print(_hashed_password())
            return 0
        from earmark import logs
        from earmark.dashboard.serve import serve

        cfg = load(args)
        logs.setup(cfg.log_level, args.verbose)
        settings = settings_from(cfg)
        if args.host is not None:
            settings = replace(settings, host=args.host)
        if args.port is not None:
            settings = replace(settings, port=args.port)
        serve(settings)
        return 0

    p = add("dashboard", dashboard, "run the web dashboard for every speaker on the broker")
    p.add_argument("--host", help="listen here (default: dashboard.host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="and on this port (default: dashboard.port, 8080)")
    p.add_argument(
        "--hash-password",
        action="store_true",
        help="read a password and print the dashboard.password_hash line for it",
    )


def _hashed_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("dashboard password: ")
        if getpass.getpass("again: ") != first:
            raise EarmarkError("the two passwords differ; nothing was printed")
    else:
        first = sys.stdin.readline().rstrip("\n")
    if len(first) < 8:
        raise EarmarkError("a dashboard password needs at least 8 characters")
    return f"password_hash: {hash_password(first)}"
