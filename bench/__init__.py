"""Benchmarks: each figure is a ratio against a baseline measured in the same run.

Every module in this package named ``bench_*.py`` exposes ``run() -> list[Figure]``;
``python -m bench`` runs them all (or those named on the command line) and prints
one table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str = "ratio"  # "ratio", "ms", "MB", "points" ...
    target: str = ""  # e.g. "<= 1.15"
    detail: str = ""  # what was measured against what

    def row(self) -> str:
        return f"{self.name:<58} {self.value:>10.3f} {self.unit:<7} {self.target:<10} {self.detail}"
