"""What every benchmark here records and reports the same way: figures with their runs (the
median is reported), ratios, and the machine and package versions they were measured on."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any


@dataclass
class Figure:
    key: str
    label: str
    unit: str
    runs: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.runs) if self.runs else float("nan")


class Results:
    """Figures by key; each run's value is echoed to stderr as it is measured."""

    digits = 1

    def __init__(self) -> None:
        self.figures: dict[str, Figure] = {}

    def add(self, key: str, label: str, unit: str, value: float) -> None:
        self.figures.setdefault(key, Figure(key, label, unit)).runs.append(value)
        print(f"  {label}: {value:,.{self.digits}f} {unit}", file=sys.stderr, flush=True)

    def median(self, key: str) -> float:
        fig = self.figures.get(key)
        return fig.median if fig else float("nan")


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release()}


def versions(distributions: Iterable[str]) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in distributions:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    return out
