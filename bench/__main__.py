"""python -m bench [name ...] — run the benchmarks and print one table."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path

from bench import Figure


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    wanted = [f"bench_{a.removeprefix('bench_')}" for a in argv] or names
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(names)}")
        return 2
    figures: list[Figure] = []
    for name in wanted:
        started = time.monotonic()
        module = importlib.import_module(f"bench.{name}")
        print(f"# {name} ...", file=sys.stderr, flush=True)
        figures.extend(module.run())
        print(f"# {name} took {time.monotonic() - started:.0f}s", file=sys.stderr, flush=True)
    print(f"{'figure':<58} {'value':>10} {'unit':<7} {'target':<10} baseline / detail")
    for figure in figures:
        print(figure.row())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
