"""Three replicas behind HAProxy, one PostgreSQL, one Redis (deploy/scaled.py, as `make up-scaled`
starts it, here on free ports): what one replica decides holds on the others.

Requests go through HAProxy (round robin, no stickiness; its X-Served-By header names the replica
that answered) or straight to one replica where the test needs to choose. The stack starts once
for the module (about 6-12 s); LDAP_REVALIDATE_SECONDS is 1 so revocation shows within a second.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from identity.locks import advisory_key
from identity.management.commands.ldap_sync import LOCK_NAME

from bench.soak_scaled import replica_kill_run
from deploy.scaled import VENV_BIN, Ports, ScaledStack, StackError, missing_programs
from devstack.browser import Browser, sign_ins_at_once
from devstack.native import REPO_DIR
from ldap_seed import group_dn, user_dn
from ldap_seed.directory import modify_as_admin
from ldap_seed.personas import BY_UID

pytestmark = [pytest.mark.stack, pytest.mark.slow]

ADA, GRACE, LINUS = BY_UID["ada"], BY_UID["grace"], BY_UID["linus"]
REPLICAS = {"app1", "app2", "app3"}


@pytest.fixture(scope="module")
def stack() -> Iterator[ScaledStack]:
    missing = missing_programs()
    if missing:
        pytest.skip(f"the scaled stack needs Debian's {' '.join(missing)}: run `make deps-scaled` as root")
    # Not pytest's tmp_path: its parents are private to root, and PostgreSQL runs as postgres.
    with tempfile.TemporaryDirectory(prefix="scaled-test-") as scratch:
        Path(scratch).chmod(0o755)
        scaled = ScaledStack(Path(scratch) / "stack", Ports.free(), {"LDAP_REVALIDATE_SECONDS": "1"})
        scaled.up()
        try:
            yield scaled
        finally:
            scaled.down()


def through_proxy(stack: ScaledStack) -> Browser:
    return Browser("127.0.0.1", stack.ports.proxy)


def at_replica(stack: ScaledStack, number: int, cookies: dict[str, str] | None = None) -> Browser:
    browser = Browser("127.0.0.1", stack.ports.replicas[number - 1])
    browser.cookies.update(cookies or {})
    return browser


def manage(stack: ScaledStack, *args: str) -> subprocess.CompletedProcess[str]:
    """manage.py with the replicas' environment, as `kubectl exec` into one replica would run it."""
    return subprocess.run(
        [str(VENV_BIN / "python"), "app/manage.py", *args],
        cwd=REPO_DIR,
        env=stack.app_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_session_made_on_one_replica_works_on_the_others(stack: ScaledStack) -> None:
    first = at_replica(stack, 1)
    assert first.sign_in(ADA.uid, ADA.password).status == 302
    for number in (2, 3):
        page = at_replica(stack, number, first.cookies).request("GET", "/profile/")
        assert page.status == 200, f"replica {number} did not know the session made on replica 1"
        assert b"ada" in page.body
    proxied = through_proxy(stack)
    proxied.cookies.update(first.cookies)
    served = set()
    for _ in range(6):
        page = proxied.request("GET", "/profile/")
        assert page.status == 200
        served.add(page.served_by)
    assert served == REPLICAS, f"round robin without stickiness should reach every replica, reached {served}"


def test_the_cache_is_shared_in_redis(stack: ScaledStack) -> None:
    written = manage(
        stack, "shell", "-c", "from django.core.cache import cache; cache.set('scaled-probe', 'from app', 60)"
    )
    assert written.returncode == 0, written.stderr
    keys = redis.Redis.from_url(stack.redis_url).keys("*scaled-probe*")
    assert keys, "the replicas' cache should be the shared Redis"


def test_concurrent_sign_ins_of_one_person_on_every_replica_all_succeed(stack: ScaledStack) -> None:
    """As many at once as the per-username budget (LDAP_MAX_FAILURES_PER_USER, 3) lets reach the
    directory; more at once are answered "too many at once" (test_simultaneous_guesses)."""
    answers: list[tuple[int, str]] = []

    def sign_in() -> None:
        browser = through_proxy(stack)
        for _ in range(3):
            browser.cookies.clear()
            answer = browser.sign_in(GRACE.uid, GRACE.password)
            answers.append((answer.status, answer.served_by))
        browser.close()

    threads = [threading.Thread(target=sign_in) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {served for _, served in answers} == REPLICAS
    assert [status for status, _ in answers] == [302] * 9, answers


def test_failures_spread_over_the_replicas_lock_on_all_of_them(stack: ScaledStack) -> None:
    browser = through_proxy(stack)
    try:
        counted_by = set()
        for attempt in range(1, 5):  # LDAP_MAX_FAILURES_PER_USER: after the third failure the name is locked
            answer = browser.sign_in(GRACE.uid, "not-the-password")
            assert answer.status == (429 if attempt == 4 else 200), f"attempt {attempt} via {answer.served_by}"
            counted_by.add(answer.served_by)
        assert counted_by == REPLICAS, f"the attempts should land on every replica, landed on {counted_by}"
        locked_on = set()
        for _ in range(6):
            answer = browser.sign_in(GRACE.uid, GRACE.password)
            assert answer.status == 429, f"{answer.served_by} let a locked person in ({answer.status})"
            locked_on.add(answer.served_by)
        assert locked_on == REPLICAS
    finally:
        assert manage(stack, "axes_reset").returncode == 0
    assert browser.sign_in(GRACE.uid, GRACE.password).status == 302


def test_simultaneous_guesses_over_the_replicas_stay_within_the_budget(stack: ScaledStack) -> None:
    """32 wrong passwords for one name posted at the same moment through HAProxy, so over all three
    replicas and their PostgreSQL connections: at most LDAP_MAX_FAILURES_PER_USER (3) reach the
    directory (each one that does is a failure django-axes records), the others are refused first."""
    browsers = [through_proxy(stack) for _ in range(32)]
    try:
        answers = [(answer.status, answer.served_by) for answer in sign_ins_at_once(browsers, [ADA.uid], "a-guess")]
        with psycopg.connect(stack.database_url) as db:
            [(recorded,)] = db.execute(
                "SELECT COALESCE(SUM(failures_since_start), 0) FROM axes_accessattempt WHERE username = %s",
                [ADA.uid],
            ).fetchall()
    finally:
        for browser in browsers:
            browser.close()
        assert manage(stack, "axes_reset").returncode == 0
    statuses = sorted(status for status, _ in answers)
    assert {served for _, served in answers} == REPLICAS, answers
    assert 1 <= recorded <= 3, answers
    assert statuses == [200] * recorded + [429] * (len(browsers) - recorded), answers


def test_a_person_removed_from_the_app_group_is_signed_out_on_every_replica(stack: ScaledStack) -> None:
    membership = f"dn: {group_dn('Django App')}\nchangetype: modify\n%s: member\nmember: {user_dn(LINUS.uid)}\n"
    sessions = []
    for number in (1, 2, 3):
        browser = at_replica(stack, number)
        assert browser.sign_in(LINUS.uid, LINUS.password).status == 302
        assert browser.request("GET", "/profile/").status == 200
        sessions.append(browser)
    modify_as_admin(stack.ldap_uri, membership % "delete")
    try:
        time.sleep(1.2)  # LDAP_REVALIDATE_SECONDS
        for number, browser in enumerate(sessions, start=1):
            # each session's next request goes to another replica than the one it was made on
            other = at_replica(stack, number % 3 + 1, browser.cookies)
            page = other.request("GET", "/profile/")
            assert page.status == 302, f"replica {number % 3 + 1} kept a revoked session ({page.status})"
            assert page.location.startswith("/login/")
            assert browser.request("GET", "/profile/").status == 302, "the session should be gone everywhere"
    finally:
        modify_as_admin(stack.ldap_uri, membership % "add")


def test_ldap_sync_beside_sign_ins_on_the_other_replicas(stack: ScaledStack) -> None:
    stop = threading.Event()
    statuses: list[int] = []

    def sign_ins(number: int) -> None:
        browser = at_replica(stack, number)
        while not stop.is_set():
            browser.cookies.clear()
            statuses.append(browser.sign_in(ADA.uid, ADA.password).status)
        browser.close()

    threads = [threading.Thread(target=sign_ins, args=(n,)) for n in (2, 3)]
    for thread in threads:
        thread.start()
    try:
        result = manage(stack, "ldap_sync")
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert statuses, "the other replicas should have served sign-ins meanwhile"
    assert set(statuses) == {302}, statuses
    with psycopg.connect(stack.database_url) as db:
        duplicates = db.execute(
            "SELECT lower(username), count(*) FROM auth_user GROUP BY 1 HAVING count(*) > 1"
        ).fetchall()
        profiles = db.execute(
            "SELECT user_id, count(*) FROM identity_directoryprofile GROUP BY 1 HAVING count(*) > 1"
        ).fetchall()
    assert duplicates == []
    assert profiles == []


def test_a_second_sync_while_one_runs_says_so_and_exits_0(stack: ScaledStack) -> None:
    with psycopg.connect(stack.database_url, autocommit=True) as other_replica:
        other_replica.execute("SELECT pg_advisory_lock(%s)", [advisory_key(LOCK_NAME)])
        second = manage(stack, "ldap_sync")
    assert second.returncode == 0, second.stderr
    assert "another ldap_sync is running" in second.stdout
    # and two started at once both end well, whichever of them ran
    both = [
        subprocess.Popen(
            [str(VENV_BIN / "python"), "app/manage.py", "ldap_sync"],
            cwd=REPO_DIR,
            env=stack.app_environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = []
    for process in both:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert "Traceback" not in err
        outputs.append(out)
    # at least one of them synced (the other may have found the lock taken, or run after it)
    assert any("another ldap_sync is running" not in out for out in outputs), outputs


def test_a_replica_killed_under_load_costs_no_client_an_error(stack: ScaledStack) -> None:
    run = replica_kill_run(stack, seconds=12, clients=8, include_refused=False, say=False)
    print(dict(run.counts))  # the figures, with -s
    assert run.violations == []
    assert run.counts["sign-ins allowed"] > 0
    assert run.counts["served by app2 after restart"] > 0
    assert stack.running("app2")


def test_a_replica_that_cannot_start_is_reported_when_it_exits(tmp_path: Path) -> None:
    """Not after the minute a replica is given to become healthy: as soon as gunicorn gives up,
    with its log's last lines. (No directory was started here, so its CA file is missing and
    the app's settings refuse to load.)"""
    scaled = ScaledStack(tmp_path / "stack", Ports.free())
    scaled.state_dir.mkdir(parents=True)
    try:
        with pytest.raises(StackError) as refused:
            scaled.start_replica(1)
    finally:
        scaled.down()
    assert "replica 1 exited before it was ready (exit code 3)" in str(refused.value)
    assert "LDAP_CA_CERT_FILE names" in str(refused.value)
    assert not scaled.running("app1")


def test_a_pid_file_naming_another_process_is_not_ours(tmp_path: Path) -> None:
    """After a crash or a reboot a stack's pid file may name a pid that now belongs to another
    process: `down` must not stop it, and `up` must not take it for a running part."""
    scaled = ScaledStack(tmp_path / "stack", Ports.free())
    scaled.state_dir.mkdir(parents=True)
    bystander = subprocess.Popen(["sleep", "600"])
    try:
        for name in ("ldap", "redis", "app1"):
            (scaled.state_dir / f"{name}.pid").write_text(f"{bystander.pid} 1")  # started at another time
        (scaled.state_dir / "haproxy.pid").write_text(str(bystander.pid))  # no time: not known to be ours
        assert scaled.status() == dict.fromkeys(scaled.status(), False)
        assert scaled.down() == []
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_a_zombie_is_not_running(tmp_path: Path) -> None:
    scaled = ScaledStack(tmp_path / "stack", Ports.free())
    scaled.state_dir.mkdir(parents=True)
    scaled._spawn("redis", ["true"])
    deadline = time.monotonic() + 5
    while scaled.running("redis") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not scaled.running("redis")  # exited, not yet waited for
    scaled._started["redis"].wait()


def test_a_pid_file_from_before_start_times_still_stops_its_process(tmp_path: Path) -> None:
    """A stack started before pid files held a start time: `down` after the upgrade still stops
    what names this stack, and an empty or cut-short pid file is nobody."""
    scaled = ScaledStack(tmp_path / "stack", Ports.free())
    scaled.state_dir.mkdir(parents=True)
    # A process whose command line keeps naming the stack's redis config (sh -c may exec its
    # last command and drop it).
    ours = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)", str(scaled.state_dir / "redis.conf")]
    )
    try:
        (scaled.state_dir / "redis.pid").write_text(str(ours.pid))
        (scaled.state_dir / "haproxy.pid").write_text("")
        assert scaled.running("redis"), Path(f"/proc/{ours.pid}/cmdline").read_bytes()
        assert not scaled.running("haproxy")
        assert scaled.down() == ["redis"]
        assert ours.wait(timeout=20) is not None
    finally:
        ours.kill()
        ours.wait()


def test_free_ports_are_all_different() -> None:
    """Each of 100 stacks' eight ports, and all 800 together: two bind(0) probes in a row can get
    the same port, and two services of one stack then collide."""
    ports = [port for _ in range(100) for port in Ports.free().all()]
    assert len(set(ports)) == len(ports)


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"SCALED_REDIS_PORT": "28432"}, "each service needs a port of its own"),
        ({"SCALED_REPLICA2_PORT": "28081"}, "each service needs a port of its own"),
        ({"SCALED_PROXY_PORT": "70000"}, "ports must be between 1 and 65535"),
        ({"SCALED_LDAP_PORT": "ldap"}, "SCALED_LDAP_PORT must be a port number, not 'ldap'"),
        ({"SCALED_LDAP_PORT": "28389²"}, "SCALED_LDAP_PORT must be a port number, not '28389²'"),
        ({"SCALED_LDAP_PORT": ""}, "SCALED_LDAP_PORT must be a port number, not ''"),
        ({"SCALED_PROXY_PORT": "8" * 5000}, "SCALED_PROXY_PORT must be a port number, not '888"),
    ],
)
def test_ports_it_cannot_use_are_refused_before_anything_starts(tmp_path: Path, env: dict[str, str], said: str) -> None:
    state = tmp_path / "stack"
    # Only the ports given here: a developer's own SCALED_*_PORT must not make a case pass for
    # another reason, or let `up` start a stack.
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SCALED_")}, **env, "SCALED_RUN_DIR": str(state)}
    try:
        result = subprocess.run(
            [sys.executable, "deploy/scaled.py", "up"],
            cwd=REPO_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        made_the_folder = state.exists()
    finally:
        if state.exists():  # a script that let the ports by started a stack
            subprocess.run([sys.executable, "deploy/scaled.py", "down"], cwd=REPO_DIR, env=env, timeout=60, check=False)
    assert result.returncode == 1
    assert said in result.stderr
    assert "Traceback" not in result.stderr
    assert not made_the_folder
