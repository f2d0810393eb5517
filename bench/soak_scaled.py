"""`make soak`, second part: the scaled stack (deploy/scaled.py) under load while a replica dies.

Two phases against a stack of its own on free ports, on loopback only, bounded by SOAK_SECONDS:

1. capacity (a quarter of SOAK_SECONDS, at least 10 s): 16 clients sign in and out through
   HAProxy; the CPU time of each part of the stack (from /proc, in clock ticks, over each
   process tree) is divided by the sign-ins made, giving CPU milliseconds per sign-in and so
   sign-ins per second per core.
2. replica kill (SOAK_SECONDS): 32 clients of mixed sign-ins and page views through HAProxy;
   replica 2 gets SIGKILL (master and workers) at 1/4 of the run and is started again at 1/2.
   Judged: no 5xx and no connection error seen by any client, no session lost (every page view
   of a signed-in client answers 200), every sign-in decision right, sign-ins never pause longer
   than HAProxy's health-check window (fall x inter = 2 s) plus 1 s, and replica 2 serves again
   after its restart. HAProxy's own counters (retries, redispatches) are printed beside.

`replica_kill_run` is also what the cross-replica test runs, shorter, on its own stack.
"""

from __future__ import annotations

import http.client
import itertools
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.cpu import processes, tree_cpu_seconds
from bench.tally import Tally
from deploy.scaled import Ports, ScaledStack
from devstack.browser import Browser
from ldap_seed.personas import PERSONAS

SECONDS = float(os.environ.get("SOAK_SECONDS", "120"))
REFUSED = b"Sign-in failed."
# identity.forms.TOO_MANY_AT_ONCE_ERROR (bench runs without the Django project on its path)
TOO_MANY_AT_ONCE = b"Too many sign-ins for this username at once."
# HAProxy takes a replica out after `fall` failed checks `inter` apart (deploy/scaled.py: 2 x 1 s)
HEALTH_WINDOW = 2.0
ALLOWED = [p for p in PERSONAS if p.signs_in]


@dataclass
class KillRun(Tally):
    """What the clients saw. ``counts`` keys: "sign-ins allowed", "sign-ins refused", "page views",
    "served by appN", "served by appN after restart"; ``violations``: what broke a promise."""

    allowed_at: list[float] = field(default_factory=list)  # time.monotonic() of each allowed sign-in
    killed_at: float = 0.0
    restarted_at: float = 0.0

    def longest_sign_in_pause(self, start: float, end: float) -> float:
        """Seconds: the longest stretch in [start, end] without an allowed sign-in."""
        with self.lock:
            moments = sorted(t for t in self.allowed_at if start <= t <= end)
        edges = [start, *moments, end]
        return max(b - a for a, b in itertools.pairwise(edges))


def _gist(body: bytes) -> str:
    """The page's message, for a violation's text: the first <p> or error list, else the start."""
    text = body.decode(errors="replace")
    for marker in ('role="alert"', 'class="field-error', "<main"):
        at = text.find(marker)
        if at >= 0:
            return " ".join(text[at : at + 200].split())
    return " ".join(text[:200].split())


def _client(number: int, stack: ScaledStack, deadline: float, run: KillRun, include_refused: bool) -> None:
    personas = PERSONAS if include_refused else ALLOWED
    persona = personas[number % len(personas)]
    browser = Browser("127.0.0.1", stack.ports.proxy)
    signed_in = False
    turn = 0
    try:
        while time.monotonic() < deadline:
            turn += 1
            sign_in = not signed_in or turn % 5 == 0
            try:
                if sign_in:
                    browser.cookies.clear()
                    answer = browser.sign_in(persona.uid, persona.password)
                else:
                    answer = browser.request("GET", "/profile/")
            except http.client.IncompleteRead:
                # The replica died after HAProxy had begun relaying its answer: nothing can replay
                # that. Counted apart, and only forgiven in the second after the kill.
                browser.connection.close()
                browser.connection = http.client.HTTPConnection("127.0.0.1", stack.ports.proxy, timeout=60)
                if run.killed_at and 0 <= time.monotonic() - run.killed_at < 1:
                    run.count("answers cut off mid-body by the kill")
                else:
                    run.violation(f"{persona.uid}: an answer was cut off mid-body")
                signed_in = False
                continue
            if sign_in:
                signed_in = False
                if answer.status >= 500:
                    run.violation(f"{persona.uid}: sign-in answered {answer.status} (via {answer.served_by})")
                elif answer.status == 302 and persona.signs_in:
                    run.count("sign-ins allowed")
                    with run.lock:
                        run.allowed_at.append(time.monotonic())
                    signed_in = True
                elif answer.status == 200 and REFUSED in answer.body and not persona.signs_in:
                    run.count("sign-ins refused")
                elif answer.status == 429 and TOO_MANY_AT_ONCE in answer.body:
                    # More clients share a persona than its guess budget lets sign in at once: the
                    # designed answer (identity.throttle), not a fault of the stack.
                    run.count("sign-ins answered too many at once")
                else:
                    run.violation(
                        f"{persona.uid}: wrong sign-in decision ({answer.status} via {answer.served_by}): "
                        f"{_gist(answer.body)}"
                    )
            else:
                run.count("page views")
                if answer.status != 200:
                    run.violation(f"{persona.uid}: session lost, /profile/ answered {answer.status} {answer.location}")
                    signed_in = False
            if answer.served_by:
                run.count(f"served by {answer.served_by}")
                if run.restarted_at and time.monotonic() > run.restarted_at:
                    run.count(f"served by {answer.served_by} after restart")
    except Exception as error:  # a connection error is a failure the client sees too
        run.violation(f"{persona.uid}: {type(error).__name__}: {error}")
    finally:
        browser.close()


def replica_kill_run(
    stack: ScaledStack, seconds: float, clients: int = 32, *, include_refused: bool = True, say: bool = True
) -> KillRun:
    """``clients`` threads for ``seconds`` through HAProxy; replica 2 killed at 1/4, started again at 1/2."""
    run = KillRun()
    start = time.monotonic()
    deadline = start + seconds
    threads = [
        threading.Thread(target=_client, args=(n, stack, deadline, run, include_refused)) for n in range(clients)
    ]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, start + seconds / 4 - time.monotonic()))
    run.killed_at = time.monotonic()
    stack.kill_replica(2)
    if say:
        print(f"  {run.killed_at - start:6.1f} s  replica 2: SIGKILL", flush=True)
    time.sleep(max(0.0, start + seconds / 2 - time.monotonic()))
    stack.start_replica(2, wait=False)
    run.restarted_at = time.monotonic()
    if say:
        print(f"  {run.restarted_at - start:6.1f} s  replica 2: started again", flush=True)
    for thread in threads:
        thread.join()
    pause = run.longest_sign_in_pause(run.killed_at - 1, min(run.killed_at + 10, run.restarted_at))
    run.counts["longest sign-in pause after the kill (ms)"] = round(pause * 1000)
    if pause > HEALTH_WINDOW + 1:
        run.violation(f"sign-ins paused {pause:.1f} s after the kill (health-check window {HEALTH_WINDOW:.0f} s)")
    if not run.counts["served by app2 after restart"]:
        run.violation("replica 2 served nothing after it was started again")
    for row in stack.haproxy_stats():
        if row["pxname"] == "app" and row["svname"] in ("app1", "app2", "app3", "BACKEND"):
            name = "backend" if row["svname"] == "BACKEND" else row["svname"]
            run.counts[f"haproxy {name}: retries"] = int(row["wretr"] or 0)
            run.counts[f"haproxy {name}: redispatches"] = int(row["wredis"] or 0)
            run.counts[f"haproxy {name}: 5xx answers"] = int(row["hrsp_5xx"] or 0)
    return run


# --- CPU per sign-in ------------------------------------------------------------------------------


def stack_cpu(stack: ScaledStack) -> dict[str, float]:
    table = processes()
    parts = {"replicas": ["app1", "app2", "app3"], "PostgreSQL": ["postgres"], "Redis": ["redis"],
             "HAProxy": ["haproxy"], "directory": ["ldap"]}  # fmt: skip
    result = {}
    for part, names in parts.items():
        pids = [stack._pid(name) for name in names]
        result[part] = sum(tree_cpu_seconds(pid, table) for pid in pids if pid)
    return result


def database_writes(stack: ScaledStack) -> dict[str, float]:
    """PostgreSQL's counters for the app's database (pg_stat_database): commits and rows written."""
    import psycopg

    with psycopg.connect(stack.database_url) as db:
        db.execute("SELECT pg_stat_clear_snapshot()")
        row = db.execute(
            "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database"
            " WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return dict(zip(("commits", "rows inserted", "rows updated", "rows deleted"), map(float, row), strict=True))


def capacity_run(stack: ScaledStack, seconds: float, clients: int = 16) -> dict[str, float]:
    """Sign-ins only, through HAProxy: sign-ins per second, and CPU ms per sign-in by part of the stack."""
    allowed = Counter[str]()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def sign_in_loop(number: int) -> None:
        persona = ALLOWED[number % len(ALLOWED)]
        browser = Browser("127.0.0.1", stack.ports.proxy)
        while time.monotonic() < deadline:
            browser.cookies.clear()
            if browser.sign_in(persona.uid, persona.password).status == 302:
                with lock:
                    allowed["n"] += 1
        browser.close()

    writes_before = database_writes(stack)
    before, started = stack_cpu(stack), time.monotonic()
    threads = [threading.Thread(target=sign_in_loop, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    after, elapsed = stack_cpu(stack), time.monotonic() - started
    time.sleep(11)  # idle PostgreSQL backends report their counters within 10 s (PGSTAT_IDLE_INTERVAL)
    writes_after = database_writes(stack)
    count = max(allowed["n"], 1)
    figures = {"sign-ins": float(allowed["n"]), "sign-ins per second": allowed["n"] / elapsed}
    for what in writes_before:
        figures[f"PostgreSQL per sign-in: {what}"] = (writes_after[what] - writes_before[what]) / count
    for part in before:
        figures[f"CPU ms per sign-in: {part}"] = 1000 * (after[part] - before[part]) / count
    server_ms = sum(figures[f"CPU ms per sign-in: {part}"] for part in before)
    figures["CPU ms per sign-in: whole stack"] = server_ms
    figures["sign-ins per second per core (whole stack)"] = 1000 / server_ms if server_ms else 0.0
    replica_ms = figures["CPU ms per sign-in: replicas"]
    figures["sign-ins per second per core (app replicas alone)"] = 1000 / replica_ms if replica_ms else 0.0
    return figures


def main() -> int:
    print(f"make soak (scaled): {SECONDS:.0f} s at concurrency 32 through HAProxy, on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="soak-scaled-") as scratch:
        # high enough that the refused personas' denials never lock them out during the run
        # Many clients share each persona at once: no lock or per-name budget may stop the load.
        load_env = {"AXES_FAILURE_LIMIT": "1000000", "LDAP_MAX_FAILURES_PER_USER": "1000000"}
        stack = ScaledStack(Path(scratch) / "stack", Ports.free(), load_env)
        Path(scratch).chmod(0o755)  # the postgres user reaches its data folder inside
        started = time.monotonic()
        stack.up()
        print(f"  stack up in {time.monotonic() - started:.1f} s (PostgreSQL, Redis, directory, 3 replicas, HAProxy)")
        try:
            capacity = capacity_run(stack, max(10.0, SECONDS / 4))
            run = replica_kill_run(stack, SECONDS)
        finally:
            stack.down()
    print("\ncapacity (16 clients, sign-ins only):")
    for what, value in capacity.items():
        print(f"  {what:<52} {value:>10.2f}")
    print("\nreplica kill (32 clients):")
    for what, count in sorted(run.counts.items()):
        print(f"  {what:<52} {count:>10}")
    for violation in run.violations:
        print(f"  VIOLATION: {violation}")
    if run.counts["violations"]:
        print("soak (scaled): FAILED")
        return 1
    print("soak (scaled): passed (no 5xx, no connection error, no session lost, sign-ins went on, replica 2 back)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
