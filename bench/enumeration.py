"""`make bench`, the enumeration part: with the directory 10 ms away each way, does the sign-in
take longer for a known username with a wrong password than for a name nobody has?

The directory sits behind a delaying TCP proxy (tests/delay_proxy.py: every chunk of data held
10 ms on its way in each direction, as JumpCloud over the internet would be); the app runs under
gunicorn as deployed. Each try is one POST of the real sign-in form, timed from the client; the
two kinds alternate, 50 each after a warm-up. The medians must differ by under 3 ms, or this
exits non-zero. Prints a table; JSON in .artifacts/bench/enumeration.json.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from devstack.browser import CSRF_TOKEN, Browser
from devstack.delay_proxy import DelayProxy
from devstack.native import REPO_DIR, NativeStack
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID

TRIES = 50
WARM_UP = 5
DELAY = 0.010
BOUND_MS = 3.0
KINDS = {"unknown username": "nobody-by-this-name", "known username, wrong password": BY_UID["linus"].uid}
ARTIFACT = REPO_DIR / ".artifacts/bench/enumeration.json"


def timed_refusal(browser: Browser, username: str) -> float:
    token = CSRF_TOKEN.search(browser.request("GET", "/login/").body)
    form = {"csrfmiddlewaretoken": token.group(1).decode() if token else "", "username": username}
    started = time.perf_counter()
    answer = browser.request("POST", "/login/", {**form, "password": "a-wrong-guess"})
    elapsed = time.perf_counter() - started
    if answer.status != 200 or b"Sign-in failed." not in answer.body:
        raise SystemExit(f"enumeration: {username!r} was not refused as a wrong sign-in ({answer.status})")
    return elapsed * 1000


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="enumeration-") as scratch:
        root = Path(scratch)
        directory = JumpCloudDirectory(root / "ldap", ephemeral=True)
        directory.start()
        address = urllib.parse.urlsplit(directory.ldap_uri)
        proxy = DelayProxy((address.hostname or "", address.port or 389), to_server=DELAY, to_client=DELAY)
        stack = NativeStack(root / "run")
        try:
            stack.up_against(
                f"ldap://127.0.0.1:{proxy.port}",
                directory.cafile,
                AXES_FAILURE_LIMIT="1000000",
                LDAP_MAX_FAILURES_PER_USER="1000000",
                LOG_LEVEL="ERROR",
            )
            browsers = {kind: Browser("127.0.0.1", stack.app_port) for kind in KINDS}
            times: dict[str, list[float]] = {kind: [] for kind in KINDS}
            for turn in range(WARM_UP + TRIES):
                order = list(KINDS) if turn % 2 == 0 else list(reversed(KINDS))
                for kind in order:
                    elapsed = timed_refusal(browsers[kind], KINDS[kind])
                    if turn >= WARM_UP:
                        times[kind].append(elapsed)
        finally:
            stack.down()
            proxy.close()
            directory.stop()
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    unknown, known = medians["unknown username"], medians["known username, wrong password"]
    difference = abs(known - unknown)
    print(f"enumeration by timing: directory {DELAY * 1000:.0f} ms away each way, {TRIES} tries each")
    print("| refusal | median | p90 |")
    print("|---|---:|---:|")
    for kind, values in times.items():
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"| {kind} | {medians[kind]:.1f} ms | {p90:.1f} ms |")
    print(f"| difference of the medians | {difference:.1f} ms | bound {BOUND_MS:.0f} ms |")
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps({"delay_ms": DELAY * 1000, "times_ms": times, "medians_ms": medians}, indent=1))
    if difference >= BOUND_MS:
        print(f"enumeration: FAILED, the medians differ by {difference:.1f} ms")
        return 1
    print("enumeration: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
