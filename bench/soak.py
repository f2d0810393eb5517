"""`make soak`: mixed traffic at concurrency 32 while the directory is killed, restarted, frozen, thawed.

Bounded (SOAK_SECONDS, default 120) and on loopback only. The app runs under gunicorn through
deploy/native.sh, configured as a deployment is; the directory runs in this process so the soak
can fault it: SIGKILL then a restart with the same data, then SIGSTOP then SIGCONT.

Every answer is judged against what it should be at that moment:
- never a 5xx;
- a persona that may sign in gets in, one that may not gets the generic refusal;
- while the directory is away (and for LDAP_TIMEOUT + 2 s after it is back), a sign-in may instead
  get the "directory unavailable" page, and only then;
- a session opened before a fault is never lost: its page views keep answering 200;
- after each fault, sign-ins succeed again without restarting the app (the freeze waits for the
  first sign-in after the restart, so page views of signed-in people are measured while frozen);
- while the directory is frozen, page views that do not sign in stay fast: p99 under 0.5 s
  (sessions are re-checked every 5 s here, so many of those pages are due for a check);
- 64 simultaneous wrong passwords for one username from one address, sent twice, put at most
  AXES_FAILURE_LIMIT binds of that user on the directory (counted in slapd's statistics log).
Each client comes from an address of its own (127.0.0.x), as people do.
Prints a summary and exits non-zero on any violation.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from bench.tally import Tally as ClientTally
from devstack.browser import CSRF_TOKEN, Browser
from devstack.native import REPO_DIR, NativeStack
from ldap_seed import SERVICE_DN, SERVICE_PASSWORD, USERS_DN
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.generate import users
from ldap_seed.personas import PERSONAS

TARGET = users(1)[0]

SECONDS = float(os.environ.get("SOAK_SECONDS", "120"))
CONCURRENCY = 32
LDAP_TIMEOUT = 2
BREAKER_SECONDS = 5
# After the directory is back, sign-ins may still fail fast until the circuit breaker's probe.
GRACE = LDAP_TIMEOUT + BREAKER_SECONDS + 2
# The bound on the p99 of page views while frozen; SOAK_PAGE_P99_BOUND=none measures without
# judging (the suite's short soak proves behaviour, not speed, on a machine it shares).
_BOUND = os.environ.get("SOAK_PAGE_P99_BOUND", "0.5")
PAGE_P99_BOUND = float("inf") if _BOUND == "none" else float(_BOUND)
ARTIFACTS = REPO_DIR / ".artifacts/soak"
FAILURE_LIMIT = 5
GUESSES_AT_ONCE = 64
ATTACKER = "127.0.0.250"
UNAVAILABLE = b"The directory cannot be reached right now"
REFUSED = b"Sign-in failed."


class Timeline:
    """When the directory was away, so each answer can be judged against its moment."""

    def __init__(self) -> None:
        self.away: list[list[float]] = []
        self.lock = threading.Lock()

    def gone(self) -> None:
        with self.lock:
            self.away.append([time.monotonic(), float("inf")])

    def back(self) -> None:
        with self.lock:
            self.away[-1][1] = time.monotonic()

    def was_away(self, started: float, ended: float) -> bool:
        with self.lock:
            return any(started <= end + GRACE and ended >= start for start, end in self.away)


@dataclass
class Tally(ClientTally):
    """The soak's tally, with the page views' timings and the freeze's window."""

    last_allowed: float = 0.0
    page_views: list[tuple[float, float]] = field(default_factory=list)  # (started, seconds) of each /profile/
    frozen: tuple[float, float] = (float("inf"), float("inf"))


def client(number: int, url_port: int, deadline: float, timeline: Timeline, tally: Tally) -> None:
    persona = PERSONAS[number % len(PERSONAS)]
    browser = Browser("127.0.0.1", url_port, source=f"127.0.0.{10 + number}")
    signed_in_at: float | None = None
    try:
        while time.monotonic() < deadline:
            started = time.monotonic()
            if signed_in_at is None or tally.counts["turns"] % 7 == number % 7:
                browser.cookies.clear()
                answer = browser.sign_in(persona.uid, persona.password)
                ended = time.monotonic()
                tally.count("turns")
                if answer.status >= 500:
                    tally.violation(f"{persona.uid}: sign-in answered {answer.status}")
                elif answer.status == 302 and persona.signs_in:
                    tally.count("sign-ins allowed")
                    tally.last_allowed = max(tally.last_allowed, ended)
                    signed_in_at = ended
                elif answer.status == 200 and UNAVAILABLE in answer.body:
                    if timeline.was_away(started, ended):
                        tally.count("directory unavailable (while away)")
                    else:
                        tally.violation(f"{persona.uid}: 'directory unavailable' while the directory was up")
                    signed_in_at = None
                elif answer.status == 200 and REFUSED in answer.body and not persona.signs_in:
                    tally.count("sign-ins refused")
                elif answer.status == 429 and not persona.signs_in:
                    tally.count("sign-ins refused (locked out)")
                else:
                    said = re.search(rb'role="alert"><p>(.*?)</p>', answer.body)
                    text = said.group(1).decode(errors="replace") if said else ""
                    tally.violation(f"{persona.uid}: wrong sign-in decision ({answer.status}) {text}")
            else:
                answer = browser.request("GET", "/profile/")
                with tally.lock:
                    tally.page_views.append((started, time.monotonic() - started))
                tally.count("page views")
                if answer.status != 200:
                    tally.violation(
                        f"{persona.uid}: session lost, /profile/ answered {answer.status} {answer.location}"
                    )
                    signed_in_at = None
    except Exception as error:  # a connection error is a failure of the service too
        tally.violation(f"{persona.uid}: {type(error).__name__}: {error}")
    finally:
        browser.close()


def faults(directory: JumpCloudDirectory, timeline: Timeline, start: float, tally: Tally) -> None:
    """Kill slapd at 1/6 of the run and restart it at 2/6; once a sign-in has succeeded again, freeze
    it (at 3/6 at the earliest) and thaw it 1/6 of the run later.

    The freeze waits for the recovery because its measure is page views of signed-in people: the
    outage signs everybody out of the soak's clients, and the circuit breaker keeps sign-ins away
    for up to LDAP_BREAKER_SECONDS after the restart, which in a short soak is past 3/6."""
    step = SECONDS / 6
    at = start + step
    for action in ("kill", "restart", "freeze", "thaw"):
        if action == "freeze":
            back = timeline.away[-1][1]
            while tally.last_allowed <= back and time.monotonic() < start + SECONDS - 2 * step:
                time.sleep(0.05)
            if tally.last_allowed <= back:
                tally.violation(f"no sign-in succeeded within {time.monotonic() - back:.1f} s of the restart")
            at = max(at, time.monotonic() + 1.0)  # the clients that signed in again browse meanwhile
        time.sleep(max(0.0, at - time.monotonic()))
        at += step
        print(f"  {time.monotonic() - start:6.1f} s  directory: {action}", flush=True)
        if action == "kill":
            timeline.gone()
            directory._proc.send_signal(signal.SIGKILL)
            directory.wait()
        elif action == "restart":
            directory.resume()
            timeline.back()
        elif action == "freeze":
            timeline.gone()
            directory.freeze()
            tally.frozen = (time.monotonic(), float("inf"))
        else:
            directory.thaw()
            timeline.back()
            tally.frozen = (tally.frozen[0], time.monotonic())
        tally.count(f"fault: {action}")


def guesser(url_port: int, start: float, tally: Tally) -> None:
    """Two bursts of simultaneous wrong passwords for one username from one address: before the
    faults, and after them (when the first burst's lock still holds)."""
    for share in (1 / 12, 11 / 12):
        time.sleep(max(0.0, start + share * SECONDS - time.monotonic()))
        browsers = [Browser("127.0.0.1", url_port, source=ATTACKER) for _ in range(GUESSES_AT_ONCE)]
        pages = [browser.request("GET", "/login/") for browser in browsers]
        tokens = [CSRF_TOKEN.search(page.body) for page in pages]
        go = threading.Barrier(GUESSES_AT_ONCE)

        def guess(browser: Browser, token: re.Match[bytes] | None, go: threading.Barrier) -> None:
            form = {"username": TARGET.uid, "password": "a-wrong-guess"}
            form["csrfmiddlewaretoken"] = token.group(1).decode() if token else ""
            go.wait()
            answer = browser.request("POST", "/login/", form)
            kinds = {
                b"at once": "too many at once",
                b"is locked": "locked",
                UNAVAILABLE: "unavailable",
                REFUSED: "refused",
            }
            kind = next((name for text, name in kinds.items() if text in answer.body), "other")
            tally.count(f"guesses answered {answer.status} ({kind})")
            browser.close()

        threads = [
            threading.Thread(target=guess, args=(browser, token, go))
            for browser, token in zip(browsers, tokens, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def page_views_while_frozen(tally: Tally) -> list[float]:
    begin, end = tally.frozen
    return sorted(seconds for started, seconds in tally.page_views if begin <= started < end)


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(share * len(values)))] if values else float("nan")


def main() -> int:
    print(f"make soak: {SECONDS:.0f} s at concurrency {CONCURRENCY} on {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="soak-") as scratch:
        root = Path(scratch)
        directory = JumpCloudDirectory(root / "ldap", ephemeral=True)
        directory.start()
        directory.load_generated(1)  # TARGET, whom nobody but the guesser signs in as
        env_file = root / "app.env"
        values = {k: v or "" for k, v in dotenv_values(REPO_DIR / "deploy/env/local.env").items()}
        values.update(
            LDAP_URI=directory.ldap_uri,
            LDAP_CA_CERT_FILE=directory.cafile,
            LDAP_BASE_DN=USERS_DN,
            LDAP_BIND_DN=SERVICE_DN,
            LDAP_BIND_PASSWORD=SERVICE_PASSWORD,
            LDAP_TIMEOUT=str(LDAP_TIMEOUT),
            DATABASE_URL=f"sqlite:///{root / 'db.sqlite3'}",
            AXES_FAILURE_LIMIT=str(FAILURE_LIMIT),
            # Six clients share each persona, at once: with the default (3), a fourth sign-in of
            # one name while three are on their way is refused as "too many at once".
            LDAP_MAX_FAILURES_PER_USER="1000000",
            LDAP_BREAKER_SECONDS=str(BREAKER_SECONDS),
            LDAP_REVALIDATE_SECONDS="5",
            LOG_LEVEL="WARNING",
        )
        env_file.write_text("".join(f'{k}="{v}"\n' for k, v in values.items()))
        stack = NativeStack(root / "run")
        started = stack.run("up", "jumpcloud", extra_env={"JUMPCLOUD_ENV_FILE": str(env_file)})
        if started.returncode != 0:
            print(started.stdout, started.stderr, file=sys.stderr)
            directory.stop()
            return 1
        timeline, tally = Timeline(), Tally()
        start = time.monotonic()
        deadline = start + SECONDS
        threads = [
            threading.Thread(target=client, args=(n, stack.app_port, deadline, timeline, tally))
            for n in range(CONCURRENCY)
        ]
        fault_thread = threading.Thread(target=faults, args=(directory, timeline, start, tally))
        guess_thread = threading.Thread(target=guesser, args=(stack.app_port, start, tally))
        try:
            for thread in [*threads, fault_thread, guess_thread]:
                thread.start()
            for thread in [*threads, fault_thread, guess_thread]:
                thread.join()
            text = directory.log_path.read_bytes().decode(errors="replace")
            guesses_reached = len(re.findall(rf'BIND dn="uid={TARGET.uid},', text))
            log = (stack.run_dir / "app.log").read_text()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / "app.log").write_text(log)  # kept for reading after the run
            server_errors = sum(1 for line in log.splitlines() if '" 5' in line and "HTTP/1.1" in line)
            if server_errors:
                tally.violation(f"the access log holds {server_errors} 5xx answers")
        finally:
            stack.down()
            directory.stop()
    # Recovered: someone signed in after the last fault ended, and the app was never restarted.
    recovered = bool(timeline.away) and tally.last_allowed > timeline.away[-1][1]
    print("\nsummary:")
    for what, count in sorted(tally.counts.items()):
        print(f"  {what:<40} {count:>8}")
    frozen = page_views_while_frozen(tally)
    p99 = percentile(frozen, 0.99)
    print(
        f"  page views while the directory was frozen: {len(frozen)}, p50 {percentile(frozen, 0.5) * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms (bound {PAGE_P99_BOUND * 1000:.0f} ms), max {(frozen or [0])[-1] * 1000:.0f} ms, "
        f"{sum(seconds >= PAGE_P99_BOUND for seconds in frozen)} over the bound"
    )
    slow = sorted(
        (round(started - tally.frozen[0], 1), round(seconds, 2))
        for started, seconds in tally.page_views
        if tally.frozen[0] <= started < tally.frozen[1] and seconds >= PAGE_P99_BOUND
    )
    if slow:
        print(f"  slow page views while frozen (seconds into the freeze, seconds taken): {slow[:20]}")
    if not frozen or not p99 < PAGE_P99_BOUND:  # NaN (no page view while frozen) fails too
        tally.violation(f"page views while frozen: p99 {p99:.3f} s, bound {PAGE_P99_BOUND} s")
    print(
        f"  guesses that reached the directory for one key ({TARGET.uid} from {ATTACKER}, 2 x {GUESSES_AT_ONCE} "
        f"at once): {guesses_reached} (AXES_FAILURE_LIMIT {FAILURE_LIMIT})"
    )
    if guesses_reached > FAILURE_LIMIT:
        tally.violation(f"{guesses_reached} guesses reached the directory, limit {FAILURE_LIMIT}")
    for violation in tally.violations:
        print(f"  VIOLATION: {violation}")
    if not recovered:
        print("  VIOLATION: no successful sign-in after the directory came back")
    if tally.counts["violations"] or not recovered:
        print("soak: FAILED")
        return 1
    print("soak: passed (no 5xx, every decision right, outages answered as such, no session lost, recovered)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
