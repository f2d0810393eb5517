"""The tables of bench/README.md's quoted run, from the JSON `make bench` and `make bench-scale` wrote.

    .venv/bin/python -m bench.report [bench/results]    # Markdown on stdout

Reads ``results.json`` (make bench) and ``results-scale.json`` (make bench-scale) in the folder
given (default ``.artifacts/bench``): the goals of both runs in one table, then each run's
measurements, as ``bench.run`` printed them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from devstack.native import REPO_DIR

RUNS = (("results.json", "make bench"), ("results-scale.json", "make bench-scale"))


def number(value: float) -> str:
    return f"{value:,.2f}"


def report(folder: Path) -> str:
    """The Markdown: a goals table (goal, run, measured, bound, met) and a table per run."""
    found = [(json.loads((folder / name).read_text()), run) for name, run in RUNS if (folder / name).exists()]
    lines = ["| goal | run | measured | bound | |", "|---|---|---:|---|---|"]
    for data, run in found:
        for goal in data["goals"]:
            if goal["met"] is None:  # bench.run.not_checked: the note says why
                lines.append(f"| {goal['goal']} | {run} | | | not checked: {goal['note']} |")
                continue
            met = "met" if goal["met"] else "**missed**"
            note = f" ({goal['note']})" if goal.get("note") else ""
            measured = f"{number(goal['value'])} {goal['unit']}"
            lines.append(f"| {goal['goal']} | {run} | {measured} | {goal['bound']} | {met}{note} |")
    for data, run in found:
        lines += ["", f"### {run}", "", f"{_when(data)}", ""]
        lines += ["| measurement | value | compared with |", "|---|---:|---|"]
        for row in data["rows"]:  # "compared" already states the ratio (bench.run.record)
            lines.append(f"| {row['measurement']} | {number(row['value'])} {row['unit']} | {row['compared']} |")
    return "\n".join(lines) + "\n"


def _when(data: dict[str, Any]) -> str:
    start, end = data["load_average"][0], data["load_average"][-1]
    return f"Run {data['when']} on {data['cores']} cores; load average {start:.1f} at the start, {end:.1f} at the end."


if __name__ == "__main__":
    sys.stdout.write(report(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO_DIR / ".artifacts" / "bench"))
