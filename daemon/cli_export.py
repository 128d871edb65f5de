"""``earmark export`` (JSON, CSV or Markdown of every highlight) and ``earmark
import`` (an archive from another box: moving house keeps every highlight at
its version, with its clip)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

from earmark import config
from earmark.errors import EarmarkError

Command = Callable[[argparse.Namespace], int]
Load = Callable[[argparse.Namespace], config.Config]
FORMATS = ("json", "csv", "markdown")


def add_commands(add: Callable[[str, Command, str], argparse.ArgumentParser], load: Load) -> None:
    def export(args: argparse.Namespace) -> int:
        from earmark.export import archive
        from earmark.store import archive as store
        from earmark.store.database import Database

        cfg = load(args)
        if not cfg.database_path.exists():
            raise EarmarkError(f"no store at {cfg.database_path}: nothing saved yet")
        db = Database(cfg.database_path, read_only=True)
        try:
            kept = store.kept(db, args.podcast, args.since)
        finally:
            db.close()
        if args.format == "json":
            text = archive.to_json(kept, cfg.device_id)
        elif args.format == "csv":
            text = archive.to_csv(kept)
        else:
            text = archive.to_markdown(kept)
        if args.output is None:
            sys.stdout.write(text)
        else:
            args.output.write_text(text, encoding="utf-8")
            print(f"{len(kept)} highlights written to {args.output}", file=sys.stderr)
        return 0

    def import_(args: argparse.Namespace) -> int:
        from earmark.export import archive
        from earmark.single_instance import InstanceLock
        from earmark.store import archive as store
        from earmark.store.database import Database

        cfg = load(args)
        try:
            text = args.archive.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise EarmarkError(f"cannot read {args.archive}: {exc}") from None
        items = archive.from_json(text, str(args.archive))
        clips = cfg.data_dir / "clips"
        with InstanceLock(cfg.data_dir):  # the speaker is the store's one writer: stopped
            clips.mkdir(parents=True, exist_ok=True)
            db = Database(cfg.database_path)
            stored = 0
            try:
                with db.transaction() as conn:
                    for kept, clip in items:
                        h = kept.highlight
                        if clip is not None:
                            path = clips / f"{h.id}.opus"
                            path.write_bytes(clip)
                            kept = dataclasses.replace(
                                kept, highlight=dataclasses.replace(h, clip_path=str(path))
                            )
                        stored += store.take_in(conn, kept)
            finally:
                db.close()
        print(f"{stored} of {len(items)} highlights imported ({len(items) - stored} already here)")
        return 0

    p = add("export", export, "every highlight as JSON (to import elsewhere), CSV or Markdown")
    p.add_argument("--format", choices=FORMATS, default="json")
    p.add_argument("--podcast", help="only this podcast's (by title)")
    p.add_argument("--since", metavar="ISO", help="only those changed since then (UTC)")
    p.add_argument("--output", "-o", type=Path, help="write here (default: standard output)")
    p = add("import", import_, "take in an archive from `earmark export` (the speaker stopped)")
    p.add_argument("archive", type=Path)
