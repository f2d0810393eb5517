"""`make bench`: what a sign-in, a page view and a sync cost, measured against their baselines.

Everything runs on this machine, over loopback only, in bounded loops: the native stack (the
seeded slapd and gunicorn with the deployment's settings), a client that signs in through the real
login form (CSRF included), and generated directories for the sync, where django-python3-ldap's
``ldap_sync_users`` runs on the same directory as the peer. The client shares the machine's cores
with the server, as the numbers' caveat. Prints a table and writes .artifacts/bench/results.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import ldap
from dotenv import dotenv_values

from devstack.browser import Browser
from devstack.native import REPO_DIR, NativeStack
from ldap_seed import SERVICE_DN, SERVICE_PASSWORD, USERS_DN
from ldap_seed.directory import JumpCloudDirectory, operations_in_log
from ldap_seed.personas import BY_UID

OUT = REPO_DIR / ".artifacts" / "bench" / "results.json"
CONCURRENCY = (1, 8, 32)
# The lockout would turn a load of wrong passwords into lockouts; this measures cost, not lockout.
STACK_ENV = {
    "AXES_FAILURE_LIMIT": "1000000",
    "LDAP_MAX_FAILURES_PER_USER": "1000000",
    "GUNICORN_MAX_REQUESTS": "0",
    "LOG_LEVEL": "WARNING",
}
LOCAL_ADMIN = ("bench-admin", "bench-admin-password-1")
DIRECTORY_PEOPLE = [BY_UID[uid] for uid in ("ada", "grace", "linus")]
TICKS = os.sysconf("SC_CLK_TCK")

rows: list[dict[str, Any]] = []


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


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def server_pids(stack: NativeStack) -> tuple[int, list[int], int]:
    master = int((stack.run_dir / "app.pid").read_text())
    runner = int((stack.run_dir / "ldap.pid").read_text())
    slapd = next(pid for pid in children(runner) if b"slapd" in Path(f"/proc/{pid}/cmdline").read_bytes())
    return master, children(master), slapd


# -- load ------------------------------------------------------------------------------------


def load(
    stack: NativeStack,
    concurrency: int,
    per_worker: int,
    action: Callable[[Browser, int], bool],
    prepare: Callable[[Browser], object] = lambda browser: None,
) -> dict[str, float]:
    """``concurrency`` clients, each running ``action`` ``per_worker`` times after ``prepare`` (untimed)."""
    master, workers, slapd = server_pids(stack)
    browsers = [Browser("127.0.0.1", stack.app_port) for _ in range(concurrency)]
    for browser in browsers:
        prepare(browser)

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

    cpu_before = cpu_seconds([master, *workers, slapd])
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(client, range(concurrency)))
    wall = time.perf_counter() - started
    cpu = cpu_seconds([master, *workers, slapd]) - cpu_before
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


def manage(environment: dict[str, str], *args: str, settings: str = "config.settings") -> tuple[float, float]:
    """Run manage.py; (wall seconds, peak RSS in MB) of that process alone."""
    env = {
        **os.environ,
        **environment,
        "DJANGO_SETTINGS_MODULE": settings,
        "PYTHONPATH": f"{REPO_DIR}:{REPO_DIR / 'app'}",
    }
    # Output to a file, not a pipe: a command that prints a line per user would fill a pipe nobody reads.
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, str(REPO_DIR / "app/manage.py"), *args], env=env, stdout=output, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            output.seek(0)
            raise SystemExit(f"bench: manage.py {' '.join(args)} failed: {output.read().decode()[-800:]}")
    return wall, usage.ru_maxrss / 1024


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


def bench_stack(scratch: Path) -> None:
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
        load(stack, 4, 10, directory_sign_in)  # warm up: workers, connections, first-time user rows
        load(stack, 2, 2, local_sign_in)

        floor = directory_floor(stack)
        record("directory floor: connect+StartTLS+bind+search (p50)", floor, "ms")
        for concurrency in CONCURRENCY:
            per_worker = max(4, 96 // concurrency)
            directory = load(stack, concurrency, per_worker * 2, directory_sign_in)
            local = load(stack, concurrency, per_worker, local_sign_in)
            failed = load(stack, concurrency, per_worker * 2, failed_sign_in)
            label = f"c={concurrency}"
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
                f"server CPU per sign-in, directory user, {label}",
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
            if concurrency == 1:
                record(
                    "sign-in, directory user, c=1 p50 vs the directory floor",
                    directory["p50"],
                    "ms",
                    "floor",
                    directory["p50"] / floor,
                )

        log = stack.run_dir / "ldap/slapd.log"
        offset = log.stat().st_size
        load(stack, 1, 20, directory_sign_in)
        ops = operations_in_log(log, offset)
        record(
            "directory operations per sign-in (bind+search+compare)",
            (ops["BIND"] + ops["SRCH"] + ops["CMP"]) / 20,
            "ops",
            f"(+ {ops['EXT'] / 20:.0f} StartTLS)",
        )

        offset = log.stat().st_size
        pages = load(stack, 8, 25, page_view("/profile/"), prepare=sign_in_linus)
        ops = operations_in_log(log, offset)
        signed_in_ops = 8 * 3  # each client signed in once, untimed: two binds and a search
        record(
            "directory operations per authenticated page view",
            (sum(ops.values()) - ops["EXT"] - signed_in_ops) / 200,
            "ops",
        )
        floor_pages = load(stack, 8, 25, page_view("/login/"))
        record(
            "page view, authenticated /profile/, c=8: p50",
            pages["p50"],
            "ms",
            "anonymous /login/ p50",
            pages["p50"] / floor_pages["p50"],
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


def bench_sync(scratch: Path, count: int) -> None:
    directory = JumpCloudDirectory(scratch / f"sync-{count}", ephemeral=True, durable=False)
    directory.start()
    try:
        directory.load_generated(count)
        base = {k: v or "" for k, v in dotenv_values(REPO_DIR / "deploy/env/local.env").items()}
        base.update(LDAP_URI=directory.ldap_uri, LDAP_START_TLS="false", LDAP_CA_CERT_FILE="", LOG_LEVEL="WARNING")
        ours = {**base, "DATABASE_URL": f"sqlite:///{scratch / f'ours-{count}.sqlite3'}"}
        peer = {**base, "DATABASE_URL": f"sqlite:///{scratch / f'peer-{count}.sqlite3'}"}
        manage(ours, "migrate", "-v0")
        manage(peer, "migrate", "-v0", settings="bench.peer_settings")
        first, first_rss = manage(ours, "ldap_sync")
        again, _ = manage(ours, "ldap_sync")
        peer_first, peer_rss = manage(peer, "ldap_sync_users", settings="bench.peer_settings")
        peer_again, _ = manage(peer, "ldap_sync_users", settings="bench.peer_settings")
        record(
            f"ldap_sync, {count:,} users, first run",
            first,
            "s",
            f"django-python3-ldap ({peer_first:.2f} s)",
            first / peer_first,
        )
        record(
            f"ldap_sync, {count:,} users, unchanged re-run",
            again,
            "s",
            f"django-python3-ldap ({peer_again:.2f} s)",
            again / peer_again,
        )
        record(
            f"ldap_sync, {count:,} users: peak memory",
            first_rss,
            "MB",
            f"django-python3-ldap ({peer_rss:.0f} MB)",
            first_rss / peer_rss,
        )
    finally:
        directory.stop()


def main() -> int:
    print(
        f"make bench on {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
        "each ratio is value / the baseline named.",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        bench_stack(Path(scratch))
        for count in (1_000, 10_000):
            bench_sync(Path(scratch), count)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {"cores": os.cpu_count(), "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": rows},
            indent=2,
        )
    )
    print(f"results written to {OUT.relative_to(REPO_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
