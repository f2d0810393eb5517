"""bench/README.md's tables come from the benchmark's own JSON, misses marked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import run
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


def test_a_goal_not_checked_says_so_and_why(tmp_path: Path) -> None:
    unchecked = {"goal": "throughput", "value": None, "unit": "", "bound": "", "met": None, "note": "--no-baseline"}
    (tmp_path / "results.json").write_text(json.dumps({**RUN, "goals": [*GOALS, unchecked]}))
    assert "| throughput | make bench | | | not checked: --no-baseline |" in report(tmp_path)


def test_print_goals_prints_a_goal_not_checked_without_counting_it_missed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --no-baseline the throughput goal was left out of the list altogether: a partial run
    read like a whole one."""
    monkeypatch.setattr(run, "goals", [])
    run.goal("fast", 2.5, "x", 3)
    run.not_checked(run.THROUGHPUT_GOAL, "--no-baseline: today's code was not run")
    assert run.print_goals() == 0
    run.goal("slow", 4.0, "x", 3)
    assert run.print_goals() == 1
    printed = capsys.readouterr().out
    assert f"[----] {run.THROUGHPUT_GOAL}" in printed
    assert "not checked: --no-baseline: today's code was not run" in printed
    assert "[MISS] slow" in printed
