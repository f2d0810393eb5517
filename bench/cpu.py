"""Server CPU as the benchmarks count it: a process tree's CPU time from /proc, the exited
processes of the tree included (proc(5): a process's utime and stime, and the cutime and cstime of
the children it has reaped). A gunicorn worker that exits during a load (GUNICORN_MAX_REQUESTS, a
crash) is reaped by its master and its CPU moves to the master's children's time; counting the
living processes alone lost it, and a list of processes fixed before the load counted a worker
replaced during it as negative CPU."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")

# pid -> (parent pid, CPU clock ticks of the process and of the children it has reaped)
ProcessTable = dict[int, tuple[int, int]]


def processes() -> ProcessTable:
    """Every process now: pid -> (parent pid, utime + stime + cutime + cstime in clock ticks)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited while the table was read
        table[int(entry.name)] = (int(fields[1]), sum(int(ticks) for ticks in fields[11:15]))
    return table


def children(pid: int, table: ProcessTable | None = None) -> list[int]:
    """The processes whose parent is ``pid``, in ``table`` (default: /proc read now)."""
    return [child for child, (parent, _) in (table or processes()).items() if parent == pid]


def tree_cpu_seconds(root: int, table: ProcessTable) -> float:
    """CPU seconds used so far by ``root`` and all its descendants in ``table``: the living ones'
    own, and the exited ones' through their parent's reaped-children time. Clock ticks (10 ms
    here) are the resolution: a difference of two readings is exact to a tick per process."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += table.get(pid, (0, 0))[1]
        todo.extend(children.get(pid, []))
    return total / TICKS


def trees_cpu_seconds(roots: Iterable[int]) -> float:
    """``tree_cpu_seconds`` of each of ``roots``, summed, from one reading of /proc."""
    table = processes()
    return sum(tree_cpu_seconds(root, table) for root in roots)
