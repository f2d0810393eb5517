"""bench/README.md's tables come from the benchmark's own JSON, misses marked."""

from __future__ import annotations

import json
from pathlib import Path

from bench.report import report

GOALS = [
    {"goal": "fast", "value": 2.5, "unit": "x", "bound": "<= 3", "met": True, "note": ""},
    {"goal": "small", "value": 250.0, "unit": "MB", "bound": "<= 200", "met": False, "note": "at 100,000"},
]
RUN = {
    "cores": 2,
    "when": "2026-11-29 12:00 UTC",
    "load_average": [1.25, 2.5],
    "goals": GOALS,
    "rows": [{"measurement": "sign-in p50", "value": 12.345, "unit": "ms", "compared": "1.50 x floor", "ratio": 1.5}],
}


def test_goals_and_rows_of_both_runs(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text(json.dumps(RUN))
    (tmp_path / "results-scale.json").write_text(json.dumps({**RUN, "goals": GOALS[1:]}))
    text = report(tmp_path)
    assert "| fast | make bench | 2.50 x | <= 3 | met |" in text
    assert "| small | make bench | 250.00 MB | <= 200 | **missed** (at 100,000) |" in text
    assert "| small | make bench-scale | 250.00 MB | <= 200 | **missed** (at 100,000) |" in text
    assert "| sign-in p50 | 12.35 ms | 1.50 x floor |" in text  # as bench.run wrote it, once
    assert text.count("load average 1.2 at the start, 2.5 at the end") == 2
    assert text.index("### make bench\n") < text.index("### make bench-scale")
