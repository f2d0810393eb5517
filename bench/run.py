"""`make bench`: what a sign-in, a page view and a sync cost, measured against their baselines.

Everything runs on this machine, over loopback only, in bounded loops: the native stack (the
seeded slapd and gunicorn with the deployment's settings), a client that signs in through the real
login form (CSRF included), and generated directories for the sync, where django-python3-ldap's
``ldap_sync_users`` runs on the same directory as the peer. The client shares the machine's cores
with the server, as the numbers' caveat. Prints a table and writes .artifacts/bench/results.json
and the plots (PNG) beside it.

Each goal of issue 15 is printed with its bound at the end; the exit status is 1 when one is
missed. "Today's" throughput is measured in the same run, on the code of ``BASELINE_REF`` (the
commit before the issue's changes) started as a second native stack.

    bench/run.py            # make bench: the stack, the baseline, ldap_sync at 1,000 and 10,000
    bench/run.py --scale    # make bench-scale: ldap_sync at 10,000, 50,000 and 100,000
    bench/run.py --sync-only  # ldap_sync at 1,000 and 10,000 alone, as make bench runs it
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import ldap
from dotenv import dotenv_values

from bench.cpu import children, processes, trees_cpu_seconds
from devstack.browser import Browser
from devstack.native import REPO_DIR, NativeStack
from ldap_seed import ADMIN_DN, ADMIN_PASSWORD, SERVICE_DN, SERVICE_PASSWORD, USERS_DN, generate
from ldap_seed.directory import JumpCloudDirectory, operations_in_log
from ldap_seed.personas import BY_UID

OUT_DIR = REPO_DIR / ".artifacts" / "bench"
CONCURRENCY = (1, 8, 32)
# The code "today's" figures are measured with, in the same run: main before issue 15.
BASELINE_REF = os.environ.get("BENCH_BASELINE_REF", "aaf1c41")
# Generated members signed in for the first time, one each (loaded into the stack's directory).
FIRST_SIGN_INS = 60
# Rounds of authenticated and anonymous page views; the median round's ratio is the one checked.
PAGE_ROUNDS = 5
# Rounds of (directory floor, returning sign-ins at c=1) for goal 1 (bench_returning_sign_in).
SIGN_IN_ROUNDS = 5
# Returning sign-ins in each of those rounds: about 0.5 s of server CPU a round, in which the 10 ms
# ticks Linux counts a process's CPU in are 2 % per process (about 5 % of a round at worst, and
# unbiased: against the kernel's nanoseconds, -0.03 to +0.03 ms a sign-in on average).
SIGN_INS_PER_ROUND = 96
# Page views per client in each round's load (8 clients). 25 made loads of a third of a second, in
# which one scheduling hiccup of the shared machine moved a p50 by half (0.8 to 1.9 x seen between
# rounds of one run); 100 gives loads of about a second.
PAGE_VIEWS = 100
# django-python3-ldap is compared with only where it finishes within this (seconds), as the issue asks.
PEER_LIMIT = 600
# An unchanged re-run takes a second or two of ours; another job on the shared cores can double
# one run. So the re-run, ours and the peer's alike, is run this many times and the fastest kept
# (up to 10,000 users; larger directories run once, the peer's re-runs being minutes long).
RERUNS = 3
# The lockout would turn a load of wrong passwords into lockouts; this measures cost, not lockout.
STACK_ENV = {
    "AXES_FAILURE_LIMIT": "1000000",
    "LDAP_MAX_FAILURES_PER_USER": "1000000",
    "GUNICORN_MAX_REQUESTS": "0",
    "LOG_LEVEL": "WARNING",
}
LOCAL_ADMIN = ("bench-admin", "bench-admin-password-1")
DIRECTORY_PEOPLE = [BY_UID[uid] for uid in ("ada", "grace", "linus")]

THROUGHPUT_GOAL = "sign-in throughput at c=32 / today's (baseline, same run)"
rows: list[dict[str, Any]] = []
goals: list[dict[str, Any]] = []
# What the plots draw: {"latency": {clients: {kind: [p50, p95, p99]}}, "sync": {users: {who: [...]}}}
series: dict[str, Any] = {"latency": {}, "sync": {}}


def goal(name: str, value: float, unit: str, bound: float, *, at_least: bool = False, note: str = "") -> None:
    """One goal of issue 15: ``value`` against ``bound`` (at most, or ``at_least``)."""
    met = value >= bound if at_least else value <= bound
    goals.append(
        {
            "goal": name,
            "value": round(value, 3),
            "unit": unit,
            "bound": f"{'>=' if at_least else '<='} {bound:g}",
            "met": met,
            "note": note,
        }
    )


def not_checked(name: str, why: str) -> None:
    """A goal this run cannot check (no baseline, the peer did not finish): printed and written as
    not checked, never as met, so a partial run does not pass for a whole one."""
    goals.append({"goal": name, "value": None, "unit": "", "bound": "", "met": None, "note": why})


def record(name: str, value: float, unit: str, baseline: str = "", ratio: float | None = None) -> None:
    """One row. ``ratio`` is value / baseline, stated next to the baseline's name."""
    compared = f"{ratio:.2f} x {baseline}" if ratio is not None else baseline
    rows.append(
        {
            "measurement": name,
            "value": round(value, 3),
            "unit": unit,
            "compared": compared,
            "ratio": None if ratio is None else round(ratio, 3),
        }
    )
    print(f"  {name:<60} {value:>9.2f} {unit:<4} {compared}", flush=True)


# -- the server's processes ------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def server_pids(stack: NativeStack) -> tuple[int, list[int], int]:
    master = int((stack.run_dir / "app.pid").read_text())
    runner = int((stack.run_dir / "ldap.pid").read_text())
    table = processes()
    slapd = next(pid for pid in children(runner, table) if b"slapd" in Path(f"/proc/{pid}/cmdline").read_bytes())
    return master, children(master, table), slapd


# -- load ------------------------------------------------------------------------------------


def load(
    stack: NativeStack,
    concurrency: int,
    per_worker: int,
    action: Callable[[Browser, int], bool],
    prepare: Callable[[Browser], object] = lambda browser: None,
    prepared: Callable[[], object] = lambda: None,
) -> dict[str, float]:
    """``concurrency`` clients, each running ``action`` ``per_worker`` times after ``prepare`` (untimed);
    ``prepared`` is called once every client is prepared, just before the timed part."""
    master, _, slapd = server_pids(stack)
    browsers = [Browser("127.0.0.1", stack.app_port) for _ in range(concurrency)]
    for browser in browsers:
        prepare(browser)
    prepared()

    def client(number: int) -> tuple[list[float], int]:
        browser = browsers[number]
        latencies, wrong = [], 0
        try:
            for turn in range(per_worker):
                started = time.perf_counter()
                ok = action(browser, number * per_worker + turn)
                latencies.append(time.perf_counter() - started)
                wrong += not ok
        finally:
            browser.close()
        return latencies, wrong

    # gunicorn's master with its workers (those replaced during the load too), and slapd.
    cpu_before = trees_cpu_seconds([master, slapd])
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(client, range(concurrency)))
    wall = time.perf_counter() - started
    cpu = trees_cpu_seconds([master, slapd]) - cpu_before
    latencies = sorted(t for result in results for t in result[0])
    wrong = sum(result[1] for result in results)
    if wrong:
        raise SystemExit(f"bench: {wrong} of {len(latencies)} answers were not the expected ones")
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "p50": quantiles[49] * 1000,
        "p95": quantiles[94] * 1000,
        "p99": quantiles[98] * 1000,
        "per_second": len(latencies) / wall,
        "cpu_ms": cpu * 1000 / len(latencies),
    }


def paired_page_views(stack: NativeStack, clients: int, views: int) -> tuple[float, float]:
    """The p50s (ms) of a signed-in person's /profile/ and an anonymous visitor's /login/, loaded
    alternately by each of ``clients`` clients on its one kept-alive connection, ``views`` of each
    (a cookie jar for each kind: the session of its own sign-in; the CSRF cookie of its first view).

    Loaded apart, the two pages were compared across different splits of the clients' connections
    between gunicorn's workers: a connection stays with the worker that accepted it, and 8 of them
    were split 2/6, 3/5 or 4/4 from one load to the next (``ss -tnp`` showed it). The busier worker
    decides the p50, so the ratio of two such loads went from 0.7 to 2.6 x for code that did not
    change. Paired on the same connections, both pages meet the same split and the same moments
    of the shared machine (1.07-1.31 x over 8 rounds of the same code)."""
    browsers = [Browser("127.0.0.1", stack.app_port) for _ in range(clients)]
    jars = []
    for browser in browsers:
        sign_in_linus(browser)
        signed_in = dict(browser.cookies)
        browser.cookies = {}
        if browser.request("GET", "/login/").status != 200:
            raise SystemExit("bench: an anonymous GET /login/ was not answered 200")
        jars.append({"/profile/": signed_in, "/login/": dict(browser.cookies)})

    def client(number: int) -> dict[str, list[float]]:
        browser = browsers[number]
        latencies: dict[str, list[float]] = {"/profile/": [], "/login/": []}
        try:
            for turn in range(views):
                # Each page goes first on every other turn: neither gets the other's warm caches.
                for path in ("/profile/", "/login/") if turn % 2 == 0 else ("/login/", "/profile/"):
                    browser.cookies = jars[number][path]
                    started = time.perf_counter()
                    status = browser.request("GET", path).status
                    latencies[path].append(time.perf_counter() - started)
                    if status != 200:
                        raise SystemExit(f"bench: GET {path} answered {status}, not 200")
        finally:
            browser.close()
        return latencies

    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = list(pool.map(client, range(clients)))
    p50 = {path: statistics.median(t for result in results for t in result[path]) * 1000 for path in results[0]}
    return p50["/profile/"], p50["/login/"]


def first_sign_in(browser: Browser, turn: int) -> bool:
    """A generated member's first sign-in: no Django user yet (the turn-th one who may sign in)."""
    user = generate.GeneratedUser(_active_member(turn))
    browser.cookies.clear()
    return browser.sign_in(user.uid, user.password).status == 302


def _active_member(turn: int) -> int:
    """The number of the turn-th generated user in the app group and ``active``."""
    allowed = (n for n in range(10**9) if {"Django App", "active"} <= generate.GeneratedUser(n).groups)
    return next(n for index, n in enumerate(allowed) if index == turn)


def directory_sign_in(browser: Browser, turn: int) -> bool:
    person = DIRECTORY_PEOPLE[turn % len(DIRECTORY_PEOPLE)]
    browser.cookies.clear()
    return browser.sign_in(person.uid, person.password).status == 302


def local_sign_in(browser: Browser, turn: int) -> bool:
    browser.cookies.clear()
    return browser.sign_in(*LOCAL_ADMIN).status == 302


def failed_sign_in(browser: Browser, turn: int) -> bool:
    person = DIRECTORY_PEOPLE[turn % len(DIRECTORY_PEOPLE)]
    browser.cookies.clear()
    answer = browser.sign_in(person.uid, "a-wrong-password")
    return answer.status == 200 and b"Sign-in failed." in answer.body


def page_view(path: str) -> Callable[[Browser, int], bool]:
    def view(browser: Browser, turn: int) -> bool:
        return browser.request("GET", path).status == 200

    return view


def sign_in_linus(browser: Browser) -> None:
    linus = BY_UID["linus"]
    assert browser.sign_in(linus.uid, linus.password).status == 302


# -- the pieces ------------------------------------------------------------------------------


# A small process between the bench and manage.py: Linux carries a process's peak RSS across fork
# and exec (ru_maxrss), so a child forked by this bench, which holds the generated LDIF, would
# report the bench's own peak. The launcher is small; it reports its child's ru_maxrss (KB).
LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as report:
    report.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def manage(
    environment: dict[str, str], *args: str, settings: str = "config.settings", limit: float | None = None
) -> tuple[float, float] | None:
    """Run manage.py; (wall seconds, peak RSS in MB) of that process alone, or None when it ran
    longer than ``limit`` seconds (then it is killed)."""
    env = {
        **os.environ,
        **environment,
        "DJANGO_SETTINGS_MODULE": settings,
        "PYTHONPATH": f"{REPO_DIR}:{REPO_DIR / 'app'}",
    }
    # Output to a file, not a pipe: a command that prints a line per user would fill a pipe nobody reads.
    with tempfile.TemporaryFile() as output, tempfile.NamedTemporaryFile(suffix=".rss") as report:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, report.name, sys.executable, str(REPO_DIR / "app/manage.py"), *args],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return None
        wall = time.perf_counter() - started
        if process.returncode != 0:
            output.seek(0)
            raise SystemExit(f"bench: manage.py {' '.join(args)} failed: {output.read().decode()[-800:]}")
        peak_kb = int(Path(report.name).read_text())
    return wall, peak_kb / 1024


def best_of(
    runs: int, environment: dict[str, str], *args: str, settings: str = "config.settings", limit: float | None = None
) -> tuple[float, float] | None:
    """``manage`` ``runs`` times: the fastest wall time and the highest peak RSS; None if a run
    ran out of time."""
    results = []
    for _ in range(runs):
        result = manage(environment, *args, settings=settings, limit=limit)
        if result is None:
            return None
        results.append(result)
    return min(wall for wall, _ in results), max(rss for _, rss in results)


def stack_environment(stack: NativeStack) -> dict[str, str]:
    """What deploy/native.sh gives the app, for manage.py beside it."""
    values = {k: v or "" for k, v in dotenv_values(REPO_DIR / "deploy/env/local.env").items()}
    return {
        **values,
        "LDAP_URI": f"ldap://127.0.0.1:{stack.ldap_port}",
        "LDAP_CA_CERT_FILE": str(stack.run_dir / "ldap/tls/ca.crt"),
        "DATABASE_URL": f"sqlite:///{stack.run_dir / 'db.sqlite3'}",
    }


def directory_floor(stack: NativeStack, repeats: int = 200) -> float:
    """python-ldap alone: a new connection, StartTLS, the service bind, the user search. Median ms."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        connection = ldap.initialize(f"ldap://127.0.0.1:{stack.ldap_port}")
        connection.set_option(ldap.OPT_X_TLS_CACERTFILE, str(stack.run_dir / "ldap/tls/ca.crt"))
        connection.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
        connection.start_tls_s()
        connection.simple_bind_s(SERVICE_DN, SERVICE_PASSWORD)
        connection.search_s(USERS_DN, ldap.SCOPE_SUBTREE, "(uid=linus)", ["memberOf", "mail"])
        connection.unbind_s()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def bench_returning_sign_in(stack: NativeStack) -> None:
    """Goal 1's returning sign-in, in ``SIGN_IN_ROUNDS`` rounds of a directory floor (100
    connects) followed by ``SIGN_INS_PER_ROUND`` returning sign-ins at c=1. Checked: the server
    CPU of all the rounds' sign-ins over their number, against the median of the rounds' floors.

    - Why rounds: the figure had been one floor and one load, and it went 2.77-3.04 x between
      three runs of unchanged code. It is the repeats that steady it, not the pairing: a round's
      CPU divided by the next round's floor spreads as much as by its own.
    - Why all the CPU and the median floor: CPU time hardly moves with the machine, and summing
      it leaves out no cost that comes less often than once a round (a garbage collection, an
      SQLite checkpoint); the floor is wall time, which a busy moment lengthens, and its median
      leaves such a moment out.
    - The floor's direction of error: a machine busy throughout raises the floor more than the
      CPU, and lowers the ratio. Each round's ratio is printed in order, so that shows."""
    floors, cpu_per_round = [], []
    for _ in range(SIGN_IN_ROUNDS):
        floors.append(directory_floor(stack, 100))
        cpu_per_round.append(load(stack, 1, SIGN_INS_PER_ROUND, directory_sign_in)["cpu_ms"])
    cpu_ms = statistics.fmean(cpu_per_round)  # equal rounds: all the CPU over all the sign-ins
    floor = statistics.median(floors)
    in_order = " ".join(f"{cpu / each:.2f}" for cpu, each in zip(cpu_per_round, floors, strict=True))
    record(
        f"server CPU per sign-in, returning directory user, c=1, vs floor ({SIGN_IN_ROUNDS} rounds)",
        cpu_ms,
        "ms",
        f"median directory floor of the rounds ({floor:.2f} ms)",
        cpu_ms / floor,
    )
    record("returning sign-in / floor, each round's own, in order", cpu_ms / floor, "x", in_order)
    goal("server CPU per returning sign-in / directory floor", cpu_ms / floor, "x", 3)


def load_generated_users(stack: NativeStack, count: int) -> None:
    """``count`` generated users (ldap_seed.generate) added to the stack's directory, as cn=admin."""
    uri = f"ldap://127.0.0.1:{stack.ldap_port}"
    for tool, records in (("ldapadd", generate.users_ldif(count)), ("ldapmodify", generate.groups_ldif(count))):
        result = subprocess.run(
            [tool, "-H", uri, "-x", "-D", ADMIN_DN, "-w", ADMIN_PASSWORD],
            input="\n".join(records).encode(),
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            raise SystemExit(f"bench: generated {tool} failed: {result.stderr.decode(errors='replace')}")


def compile_bytecode(root: Path) -> None:
    """Byte-compile the virtualenv and the code, as the image does (UV_COMPILE_BYTECODE=1): where
    PYTHONDONTWRITEBYTECODE is set, every process would otherwise compile Django afresh (about
    3 s here), a cost a deployment does not pay and which would swamp a sync's own time."""
    targets = [str(root / name) for name in ("app", "ldap_seed", "bench") if (root / name).is_dir()]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j0", sysconfig.get_paths()["purelib"], *targets],
        check=False,
        capture_output=True,
    )


def checkout(ref: str, target: Path) -> Path:
    """The files of ``ref`` in ``target`` (no change to this repository), with this .venv linked in,
    and this checkout's deploy/native.sh: it is the harness that starts and stops the stack, not
    the code measured, and ``ref``'s could run migrate before its directory had made its CA (a
    start race fixed since)."""
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO_DIR), "archive", ref], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    (target / ".venv").symlink_to(REPO_DIR / ".venv")
    shutil.copy2(REPO_DIR / "deploy/native.sh", target / "deploy/native.sh")
    compile_bytecode(target)
    return target


def queries_per_request() -> dict[str, list[str]]:
    """The SQL of one request of each kind, from bench/profile_signin.py (its own slapd and database)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(
            [sys.executable, "-m", "bench.profile_signin", "--queries", out.name],
            check=True,
            capture_output=True,
            cwd=REPO_DIR,
            env={**os.environ, "PYTHONPATH": str(REPO_DIR / "app")},  # the Django project, imported in process
        )
        found: dict[str, list[str]] = json.loads(Path(out.name).read_text())
    return found


def bench_baseline(scratch: Path) -> dict[str, float]:
    """Today's code: directory sign-ins at c=1 (server CPU) and c=32 (throughput, p99)."""
    # The native stack of another commit (git archive), run with this checkout's virtualenv.
    stack = NativeStack(scratch / "baseline-run", checkout=checkout(BASELINE_REF, scratch / "baseline"))
    stack.up(extra_env=STACK_ENV)
    try:
        load(stack, 4, 10, directory_sign_in)
        one = load(stack, 1, 96, directory_sign_in)
        many = load(stack, 32, 6, directory_sign_in)
    finally:
        stack.down()
    record(f"baseline {BASELINE_REF}: server CPU per sign-in, c=1", one["cpu_ms"], "ms")
    record(
        f"baseline {BASELINE_REF}: sign-in throughput, c=32", many["per_second"], "/s", f"(p99 {many['p99']:.1f} ms)"
    )
    return {"cpu_ms": one["cpu_ms"], "per_second": many["per_second"], "p99": many["p99"]}


def bench_stack(scratch: Path, baseline: dict[str, float] | None) -> None:
    stack = NativeStack(scratch / "run")
    started = time.perf_counter()
    stack.up(extra_env=STACK_ENV)
    record("native stack: up to healthy", time.perf_counter() - started, "s")
    try:
        env = stack_environment(stack)
        manage(
            {**env, "DJANGO_SUPERUSER_PASSWORD": LOCAL_ADMIN[1]},
            "createsuperuser",
            "--noinput",
            "--username",
            LOCAL_ADMIN[0],
            "--email",
            "bench@example.com",
        )
        load_generated_users(stack, 10 * FIRST_SIGN_INS)
        load(stack, 4, 10, directory_sign_in)  # warm up: workers, connections, first-time user rows
        load(stack, 2, 2, local_sign_in)

        floor = directory_floor(stack)
        record("directory floor: connect+StartTLS+bind+search (p50)", floor, "ms")
        first = load(stack, 1, FIRST_SIGN_INS, first_sign_in)
        record(
            "server CPU per first sign-in of a directory user, c=1",
            first["cpu_ms"],
            "ms",
            "directory floor",
            first["cpu_ms"] / floor,
        )
        goal("server CPU per first sign-in / directory floor", first["cpu_ms"] / floor, "x", 5)
        bench_returning_sign_in(stack)
        for concurrency in CONCURRENCY:
            per_worker = max(4, 96 // concurrency)
            directory = load(stack, concurrency, per_worker * 2, directory_sign_in)
            local = load(stack, concurrency, per_worker, local_sign_in)
            failed = load(stack, concurrency, per_worker * 2, failed_sign_in)
            label = f"c={concurrency}"
            series["latency"][concurrency] = {
                "directory": [directory["p50"], directory["p95"], directory["p99"]],
                "local": [local["p50"], local["p95"], local["p99"]],
                "wrong password": [failed["p50"], failed["p95"], failed["p99"]],
            }
            record(
                f"sign-in, directory user, {label}: p50",
                directory["p50"],
                "ms",
                "local account p50",
                directory["p50"] / local["p50"],
            )
            record(f"sign-in, directory user, {label}: p95", directory["p95"], "ms", f"(p99 {directory['p99']:.1f} ms)")
            record(
                f"sign-in, directory user, {label}: throughput",
                directory["per_second"],
                "/s",
                "local account",
                directory["per_second"] / local["per_second"],
            )
            record(
                f"sign-in, local account (PBKDF2), {label}: p50",
                local["p50"],
                "ms",
                f"(p95 {local['p95']:.1f}, p99 {local['p99']:.1f})",
            )
            record(f"sign-in, local account, {label}: throughput", local["per_second"], "/s")
            record(
                f"sign-in, wrong password, {label}: p50",
                failed["p50"],
                "ms",
                f"(p95 {failed['p95']:.1f}, p99 {failed['p99']:.1f})",
            )
            record(
                f"server CPU per sign-in, returning directory user, {label}",
                directory["cpu_ms"],
                "ms",
                f"local account ({local['cpu_ms']:.1f} ms)",
                directory["cpu_ms"] / local["cpu_ms"],
            )
            record(
                f"server CPU per wrong password, {label}",
                failed["cpu_ms"],
                "ms",
                f"a successful directory sign-in ({directory['cpu_ms']:.1f} ms)",
                failed["cpu_ms"] / directory["cpu_ms"],
            )
            if concurrency == 1 and baseline:
                record(
                    "server CPU per sign-in, returning directory user, c=1, vs baseline",
                    directory["cpu_ms"],
                    "ms",
                    f"baseline {BASELINE_REF} ({baseline['cpu_ms']:.1f} ms)",
                    directory["cpu_ms"] / baseline["cpu_ms"],
                )
            if concurrency == 32 and not baseline:
                not_checked(THROUGHPUT_GOAL, f"--no-baseline: today's code ({BASELINE_REF}) was not run")
            if concurrency == 32 and baseline:
                record(
                    "sign-in throughput, directory user, c=32, vs baseline",
                    directory["per_second"],
                    "/s",
                    f"baseline {BASELINE_REF} ({baseline['per_second']:.1f} /s, p99 {baseline['p99']:.0f} ms)",
                    directory["per_second"] / baseline["per_second"],
                )
                goal(
                    THROUGHPUT_GOAL,
                    directory["per_second"] / baseline["per_second"],
                    "x",
                    2,
                    at_least=True,
                    note=f"p99 {directory['p99']:.0f} ms (baseline {baseline['p99']:.0f} ms)",
                )

        log = stack.run_dir / "ldap/slapd.log"
        offset = log.stat().st_size
        load(stack, 1, 20, directory_sign_in)
        ops = operations_in_log(log, offset)
        record(
            "directory operations per sign-in (bind+search+compare)",
            (ops["BIND"] + ops["SRCH"] + ops["CMP"]) / 20,
            "ops",
            f"(+ {ops['EXT'] / 20:.2f} StartTLS: connections are kept)",
        )

        # Rounds, and the round with the median ratio: a blip of the shared machine during one
        # load would otherwise decide it. In each, the two p50s from paired_page_views; the CPU and
        # throughput of each page from a load of it alone (CPU cannot be told apart in a mixed load).
        rounds = []
        for _ in range(PAGE_ROUNDS):
            log_sizes: list[int] = []

            def after_the_sign_ins(sizes: list[int] = log_sizes) -> None:
                sizes.append(log.stat().st_size)

            signed_in = load(
                stack,
                8,
                PAGE_VIEWS,
                page_view("/profile/"),
                prepare=sign_in_linus,
                prepared=after_the_sign_ins,
            )
            ops = operations_in_log(log, log_sizes[0])
            anonymous = load(stack, 8, PAGE_VIEWS, page_view("/login/"))
            signed_in_p50, anonymous_p50 = paired_page_views(stack, 8, PAGE_VIEWS)
            rounds.append((signed_in_p50 / anonymous_p50, signed_in_p50, anonymous_p50, signed_in, anonymous, ops))
        in_order = " ".join(f"{found[0]:.2f}" for found in rounds)
        rounds.sort(key=lambda found: found[0])
        ratio, signed_in_p50, anonymous_p50, pages, floor_pages, ops = rounds[len(rounds) // 2]
        record("directory operations per authenticated page view", sum(ops.values()) / (8 * PAGE_VIEWS), "ops")
        record(
            "page view, authenticated /profile/ paired with anonymous /login/, c=8: p50",
            signed_in_p50,
            "ms",
            f"anonymous /login/ p50 ({anonymous_p50:.2f} ms), same connections",
            ratio,
        )
        record(
            f"page view p50 ratio, each of the {PAGE_ROUNDS} rounds in order (median checked)",
            ratio,
            "x",
            in_order,
        )
        goal("authenticated page view p50 / anonymous page p50 (c=8)", ratio, "x", 1.3)
        record(
            "server CPU per page view, authenticated /profile/, c=8",
            pages["cpu_ms"],
            "ms",
            f"anonymous /login/ ({floor_pages['cpu_ms']:.2f} ms)",
            pages["cpu_ms"] / floor_pages["cpu_ms"],
        )
        record(
            "page view, authenticated /profile/, c=8: throughput",
            pages["per_second"],
            "/s",
            "anonymous /login/",
            pages["per_second"] / floor_pages["per_second"],
        )

        master, workers, slapd = server_pids(stack)
        record(
            "memory: gunicorn master + workers (RSS)",
            rss_mb(master) + sum(rss_mb(w) for w in workers),
            "MB",
            f"({len(workers)} workers)",
        )
        record("memory: slapd (RSS)", rss_mb(slapd), "MB")
    finally:
        stack.down()


def bench_queries() -> None:
    for kind, statements in queries_per_request().items():
        writes = sum(1 for sql in statements if sql.split()[0] in ("INSERT", "UPDATE", "DELETE"))
        record(f"SQL statements: {kind}", len(statements), "", f"({writes} writes)")


def bench_sync(scratch: Path, count: int) -> None:
    # 100,000 generated entries with their indexes outgrow the 1 GB map the runner gives by default.
    directory = JumpCloudDirectory(
        scratch / f"sync-{count}", ephemeral=True, durable=False, max_size=max(1 << 30, count * 40_000)
    )
    directory.start()
    try:
        started = time.perf_counter()
        directory.load_generated(count)
        record(f"ldap_sync, {count:,} users: loading the directory", time.perf_counter() - started, "s")
        base = {k: v or "" for k, v in dotenv_values(REPO_DIR / "deploy/env/local.env").items()}
        base.update(LDAP_URI=directory.ldap_uri, LDAP_START_TLS="false", LDAP_CA_CERT_FILE="", LOG_LEVEL="WARNING")
        ours = {**base, "DATABASE_URL": f"sqlite:///{scratch / f'ours-{count}.sqlite3'}"}
        peer = {**base, "DATABASE_URL": f"sqlite:///{scratch / f'peer-{count}.sqlite3'}"}
        manage(ours, "migrate", "-v0")
        manage(peer, "migrate", "-v0", settings="bench.peer_settings")
        reruns = RERUNS if count <= 10_000 else 1
        again_label = "unchanged re-run" + (f" (best of {reruns})" if reruns > 1 else "")
        first_run = manage(ours, "ldap_sync")
        again_run = best_of(reruns, ours, "ldap_sync")
        assert first_run is not None
        assert again_run is not None
        (first, first_rss), (again, again_rss) = first_run, again_run
        record(f"ldap_sync, {count:,} users, first run", first, "s")
        record(f"ldap_sync, {count:,} users, {again_label}", again, "s")
        peak = max(first_rss, again_rss)
        record(f"ldap_sync, {count:,} users: peak memory (first run or re-run)", peak, "MB")
        if count >= 100_000:
            goal(f"ldap_sync, {count:,} users: peak memory", peak, "MB", 200)
        peer_first_run = manage(peer, "ldap_sync_users", settings="bench.peer_settings", limit=PEER_LIMIT)
        peer_again_run = (
            best_of(reruns, peer, "ldap_sync_users", settings="bench.peer_settings", limit=PEER_LIMIT)
            if peer_first_run
            else None
        )
        series["sync"][count] = {"ours": [first, again, peak], "peer": None}
        first_goal = f"ldap_sync, {count:,} users, first run: peer time / ours"
        again_goal = f"ldap_sync, {count:,} users, re-run: peer time / ours"
        memory_goal = f"ldap_sync, {count:,} users: peak memory / the peer's"
        unfinished = f"django-python3-ldap did not finish within {PEER_LIMIT:.0f} s"
        if peer_first_run is None:
            record(f"django-python3-ldap, {count:,} users", PEER_LIMIT, "s", "did not finish: not compared")
            # The issue asks for the time ratios only where the peer finishes: said, not dropped.
            if count >= 10_000:
                not_checked(first_goal, unfinished)
                not_checked(again_goal, unfinished)
            if count == 10_000:
                not_checked(memory_goal, unfinished)
            return
        peer_first, peer_rss = peer_first_run
        if peer_again_run is not None:
            peer_rss = max(peer_rss, peer_again_run[1])
        series["sync"][count]["peer"] = [peer_first, peer_again_run[0] if peer_again_run else None, peer_rss]
        record(
            f"django-python3-ldap, {count:,} users, first run",
            peer_first,
            "s",
            "ours / theirs",
            first / peer_first,
        )
        if count >= 10_000:  # the sizes; at 1,000 both are mostly Python and Django starting
            goal(first_goal, peer_first / first, "x", 5, at_least=True)
        if peer_again_run is None and count >= 10_000:
            not_checked(again_goal, f"{unfinished} on the re-run")
        if peer_again_run is not None:
            peer_again = peer_again_run[0]
            record(
                f"django-python3-ldap, {count:,} users, {again_label}",
                peer_again,
                "s",
                "ours / theirs",
                again / peer_again,
            )
            if count >= 10_000:
                goal(again_goal, peer_again / again, "x", 8, at_least=True)
        record(f"django-python3-ldap, {count:,} users: peak memory", peer_rss, "MB", "ours / theirs", peak / peer_rss)
        if count == 10_000:
            goal(memory_goal, peak / peer_rss, "x", 1.2)
    finally:
        directory.stop()


# -- plots -----------------------------------------------------------------------------------


def plot(out_dir: Path) -> list[Path]:
    """Latency against concurrency (directory, local and wrong-password sign-ins), and sync time and
    peak memory against users (ours and the peer's), from every results*.json in ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    latency: dict[str, Any] = {}
    sync: dict[str, Any] = {}
    runs = []
    for path in sorted(out_dir.glob("results*.json")):  # -scale, then -sync, then make bench's: the last wins
        data = json.loads(path.read_text())
        latency.update(data.get("series", {}).get("latency", {}))
        sync.update(data.get("series", {}).get("sync", {}))
        target = "bench-scale" if "scale" in path.name else "bench-sync" if "sync" in path.name else "bench"
        runs.append(f"make {target} {data.get('when', '?')}")
    caption = f"{'; '.join(runs)}; {os.cpu_count()} cores shared by client and server"
    written = []
    if latency:
        levels = sorted(latency, key=int)
        figure, axes = plt.subplots(figsize=(7, 4.2))
        for kind, colour in (("directory", "tab:blue"), ("local", "tab:red"), ("wrong password", "tab:green")):
            p50 = [latency[c][kind][0] for c in levels]
            p95 = [latency[c][kind][1] for c in levels]
            axes.plot([int(c) for c in levels], p50, "o-", color=colour, label=f"{kind}: p50")
            axes.plot([int(c) for c in levels], p95, "o--", color=colour, alpha=0.5, label=f"{kind}: p95")
        axes.set(xscale="log", yscale="log", xlabel="concurrent clients", ylabel="sign-in latency (ms)")
        axes.set_xticks([int(c) for c in levels], [str(c) for c in levels])
        axes.set_title("Sign-in latency: directory user vs local account (PBKDF2)", fontsize=10)
        axes.legend(fontsize=7)
        figure.text(0.01, 0.01, caption, fontsize=7, color="grey")
        figure.tight_layout(rect=(0, 0.03, 1, 1))
        written.append(out_dir / "signin-latency.png")
        figure.savefig(written[-1], dpi=110)
        plt.close(figure)
    if sync:
        sizes = sorted(sync, key=int)
        figure, (time_axes, memory_axes) = plt.subplots(1, 2, figsize=(9, 4))
        xs = [int(n) for n in sizes]
        for who, colour in (("ours", "tab:blue"), ("peer", "tab:orange")):
            label = "ldap_sync (this app)" if who == "ours" else "django-python3-ldap"
            points = [(int(n), sync[n][who]) for n in sizes if sync[n][who]]
            if not points:
                continue
            time_axes.plot(
                [n for n, v in points], [v[0] for n, v in points], "o-", color=colour, label=f"{label}: first"
            )
            again = [(n, v[1]) for n, v in points if v[1] is not None]
            time_axes.plot([n for n, _ in again], [v for _, v in again], "s--", color=colour, label=f"{label}: re-run")
            memory_axes.plot([n for n, v in points], [v[2] for n, v in points], "o-", color=colour, label=label)
        time_axes.set(xlabel="directory users", ylabel="seconds", xscale="log", yscale="log", title="ldap_sync time")
        memory_axes.set(xlabel="directory users", ylabel="peak RSS (MB)", xscale="log", title="ldap_sync peak memory")
        memory_axes.set_ylim(bottom=0)
        for axes in (time_axes, memory_axes):
            axes.set_xticks(xs, [f"{n // 1000}k" for n in xs])
            axes.legend(fontsize=7)
        figure.text(0.01, 0.01, caption, fontsize=7, color="grey")
        figure.tight_layout(rect=(0, 0.03, 1, 1))
        written.append(out_dir / "sync-scale.png")
        figure.savefig(written[-1], dpi=110)
        plt.close(figure)
    return written


def print_goals() -> int:
    """The goals with their bounds; the number missed."""
    print("\nGoals (issue 15):", flush=True)
    for row in goals:
        if row["met"] is None:
            print(f"  [----] {row['goal']:<62} not checked: {row['note']}")
            continue
        mark = "met " if row["met"] else "MISS"
        note = f"  ({row['note']})" if row["note"] else ""
        print(f"  [{mark}] {row['goal']:<62} {row['value']:>8.2f} {row['unit']:<3} bound {row['bound']}{note}")
    return sum(row["met"] is False for row in goals)


def main() -> int:
    parser = argparse.ArgumentParser(description="make bench / make bench-scale")
    parser.add_argument("--scale", action="store_true", help="ldap_sync at 10,000, 50,000 and 100,000 users only")
    parser.add_argument("--sync-only", action="store_true", help="ldap_sync at 1,000 and 10,000 users only")
    parser.add_argument("--no-baseline", action="store_true", help=f"skip today's code ({BASELINE_REF})")
    parser.add_argument("--plots-only", action="store_true", help="redraw the plots from the results written")
    arguments = parser.parse_args()
    if arguments.plots_only:
        for path in plot(OUT_DIR):
            print(f"plot written to {path.relative_to(REPO_DIR)}")
        return 0
    load_average = os.getloadavg()
    print(
        f"make bench on {os.cpu_count()} cores (load average {load_average[0]:.1f} at the start), Python "
        f"{sys.version.split()[0]}; each ratio is value / the baseline named.",
        flush=True,
    )
    name = "results-scale.json" if arguments.scale else "results-sync.json" if arguments.sync_only else "results.json"
    compile_bytecode(REPO_DIR)
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        if arguments.scale:
            for count in (10_000, 50_000, 100_000):
                bench_sync(Path(scratch), count)
        elif arguments.sync_only:
            for count in (1_000, 10_000):
                bench_sync(Path(scratch), count)
        else:
            baseline = None if arguments.no_baseline else bench_baseline(Path(scratch))
            bench_stack(Path(scratch), baseline)
            bench_queries()
            for count in (1_000, 10_000):
                bench_sync(Path(scratch), count)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / name).write_text(
        json.dumps(
            {
                "cores": os.cpu_count(),
                "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "load_average": [load_average[0], os.getloadavg()[0]],
                "rows": rows,
                "goals": goals,
                "series": series,
            },
            indent=2,
        )
    )
    print(f"results written to {(OUT_DIR / name).relative_to(REPO_DIR)}")
    for path in plot(OUT_DIR):
        print(f"plot written to {path.relative_to(REPO_DIR)}")
    missed = print_goals()
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
