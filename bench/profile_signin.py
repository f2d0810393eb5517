"""What each sign-in saving is worth, measured in one run: the sign-in POST of a returning directory
user whose entry did not change, with every saving on, then with each one undone in turn.

The WSGI application is called directly (no gunicorn, no HTTP client), against a seeded slapd with
StartTLS and an SQLite file in WAL mode, as the native stack runs them. Variants are interleaved
round by round so that the machine's load affects them alike; each figure is the median over the
rounds of (this process's CPU + slapd's CPU) / sign-ins, in ms, and the SQL statements per POST.

    PYTHONPATH=app .venv/bin/python -m bench.profile_signin [--rounds 7] [--per-round 60] [--queries FILE]

(``app`` on the path: the Django project is imported in this process.)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from devstack.native import REPO_DIR
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID

TICKS = os.sysconf("SC_CLK_TCK")
TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Caller:
    """A browser for a WSGI application called in-process: cookies kept, answers as (status, headers, body)."""

    def __init__(self, application: Any) -> None:
        self.application = application
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, bytes]:
        body = urllib.parse.urlencode(form).encode() if form else b""
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1:8000",
            "HTTP_COOKIE": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            "HTTP_REFERER": "http://127.0.0.1:8000/login/",
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        answer: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            answer["status"], answer["headers"] = int(status.split()[0]), headers

        result = self.application(environ, start_response)
        payload = b"".join(result)
        if hasattr(result, "close"):
            result.close()
        for header, value in answer["headers"]:
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return answer["status"], payload

    def token(self) -> str:
        self.cookies.clear()
        status, page = self.request("GET", "/login/")
        found = TOKEN.search(page)
        assert status == 200, status
        assert found is not None
        return found.group(1).decode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--per-round", type=int, default=60)
    parser.add_argument(
        "--queries", type=Path, help="write the SQL of each kind of request to this JSON file, and stop"
    )
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="profile-") as scratch:
        directory = JumpCloudDirectory(Path(scratch) / "ldap", ephemeral=True)
        directory.start()
        try:
            return profile(directory, Path(scratch), arguments.rounds, arguments.per_round, arguments.queries)
        finally:
            directory.stop()


def profile(
    directory: JumpCloudDirectory, scratch: Path, rounds: int, per_round: int, queries_out: Path | None = None
) -> int:
    """Print the comparisons; with ``queries_out``, write the SQL of each kind of request there
    as JSON instead (``make bench`` prints it)."""
    from dotenv import dotenv_values

    environment = {k: v or "" for k, v in dotenv_values(REPO_DIR / "deploy/env/local.env").items()}
    environment.update(
        LDAP_URI=directory.ldap_uri,
        LDAP_CA_CERT_FILE=directory.cafile,
        DATABASE_URL=f"sqlite:///{scratch / 'db.sqlite3'}",
        AXES_FAILURE_LIMIT="1000000",
        LOG_LEVEL="WARNING",
    )
    os.environ.update(environment)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()
    from axes.handlers.database import AxesDatabaseHandler
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application
    from django.db import connection
    from django.test import override_settings
    from identity import accounts, backends, ldap_client, lockout, reads, throttle
    from identity.models import DirectoryProfile

    call_command("migrate", verbosity=0)
    slapd = directory._proc.pid
    linus = BY_UID["linus"]

    def undo(target: Any, name: str, value: Any) -> Callable[[], Any]:
        @contextmanager
        def patched() -> Iterator[None]:
            original = getattr(target, name)
            setattr(target, name, value)
            try:
                yield
            finally:
                setattr(target, name, original)

        return patched

    def axes_reset_every_time(self: Any, sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        # django-axes' own handler, the guess in flight still settled (else each sign-in would
        # stay in flight, and the fourth be refused as too many at once).
        with throttle.settling(request):
            AxesDatabaseHandler.user_logged_in(self, sender, request, user, **kwargs)

    def new_database_connection_each_request() -> Any:
        @contextmanager
        def patched() -> Iterator[None]:
            connection.close()
            connection.settings_dict["CONN_MAX_AGE"] = 0
            try:
                yield
            finally:
                connection.settings_dict["CONN_MAX_AGE"] = 60
                connection.close()

        return patched

    def reads_built_by_the_orm() -> Any:
        # identity.reads' queries as the ORM builds them (what they were before).
        orm = {
            "user": lambda pk: User.objects.select_related("directory_profile").filter(pk=pk).first(),
            "profile_holding_id": lambda attribute, directory_id: (
                DirectoryProfile.objects.select_related("user")
                .filter(directory_id_attribute=attribute, directory_id=directory_id)
                .first()
            ),
            "group_names": lambda pk: set(Group.objects.filter(user=pk).values_list("name", flat=True)),
        }

        @contextmanager
        def patched() -> Iterator[None]:
            with ExitStack() as stack:
                for name, value in orm.items():
                    stack.enter_context(undo(reads, name, value)())
                yield

        return patched

    savings: dict[str, Callable[[], Any]] = {
        "reads built by the ORM (user and profile, by stable id, group names)": reads_built_by_the_orm(),
        "a new LDAP connection (TCP + StartTLS) per sign-in": undo(ldap_client, "MAX_IDLE_SECONDS", -1.0),
        "a new database connection per request (CONN_MAX_AGE=0)": new_database_connection_each_request(),
        "rows written although unchanged (transaction + group upsert)": undo(
            accounts, "_holds_exactly", lambda profile, account: False
        ),
        "axes: clean-up, reset and AccessLog row with no failures": undo(
            lockout.DirectoryAwareAxesHandler, "user_logged_in", axes_reset_every_time
        ),
        "axes: AccessLog row (AXES_DISABLE_ACCESS_LOG)": lambda: override_settings(AXES_DISABLE_ACCESS_LOG=False),
        "Django's session store (create: SELECT, INSERT, UPDATE; reads by the ORM)": lambda: override_settings(
            SESSION_ENGINE="django.contrib.sessions.backends.db"
        ),
    }
    variants: dict[str, list[Callable[[], Any]]] = {"all savings": []}
    variants.update({f"undone: {name}": [make] for name, make in savings.items()})
    variants["none of the savings (before)"] = list(savings.values())
    variants["undone: axes: clean-up, reset and AccessLog row with no failures"].append(
        savings["axes: AccessLog row (AXES_DISABLE_ACCESS_LOG)"]
    )
    del variants["undone: axes: AccessLog row (AXES_DISABLE_ACCESS_LOG)"]  # only written with the line above

    statements = 0
    show = False
    shown: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal statements
        statements += 1
        if show or queries_out is not None:
            shown.append(" ".join(sql.split())[:150])
        return execute(sql, params, many, context)

    def sign_in(caller: Caller) -> Callable[[], int]:
        token = caller.token()
        form = {"csrfmiddlewaretoken": token, "username": linus.uid, "password": linus.password}
        return lambda: caller.request("POST", "/login/", form)[0]

    def page(path: str, signed_in: bool) -> Callable[[Caller], Callable[[], int]]:
        def prepare(caller: Caller) -> Callable[[], int]:
            if signed_in and "sessionid" not in caller.cookies:
                assert sign_in(caller)() == 302
                caller.request("GET", path)  # the first view after a sign-in, untimed
            if not signed_in:
                caller.cookies.clear()
            return lambda: caller.request("GET", path)[0]

        return prepare

    def run(
        makers: list[Callable[[], Any]], times: int, prepare: Callable[[Caller], Callable[[], int]]
    ) -> tuple[float, float]:
        """(CPU ms, SQL statements) per timed request; ``prepare`` (untimed) returns the request."""
        nonlocal statements
        with ExitStack() as stack:
            for make in makers:
                stack.enter_context(make())
            caller = Caller(get_wsgi_application())
            cpu, queries = 0.0, 0
            for _ in range(times):
                action = prepare(caller)
                before = time.process_time(), process_cpu(slapd)
                statements = 0
                with connection.execute_wrapper(count):
                    status = action()
                queries += statements
                cpu += time.process_time() - before[0] + process_cpu(slapd) - before[1]
                assert status in (200, 302), status
            return cpu * 1000 / times, queries / times

    def compare(
        title: str, cases: dict[str, tuple[list[Callable[[], Any]], Callable[[Caller], Callable[[], int]]]]
    ) -> None:
        nonlocal show
        for makers, prepare in cases.values():  # warm up: imports, first-time rows, connections
            run(makers, 5, prepare)
        results: dict[str, list[float]] = {name: [] for name in cases}
        queries: dict[str, float] = {}
        for _ in range(rounds):
            for name, (makers, prepare) in cases.items():
                cpu, queries[name] = run(makers, per_round, prepare)
                results[name].append(cpu)
        first = next(iter(cases))
        shown.clear()
        show = True
        run(*cases[first][:1], 1, cases[first][1])
        show = False
        print(f"\n{title}, {rounds} rounds x {per_round}; load average {os.getloadavg()[0]:.2f}")
        print(f"SQL of one request, {first}:")
        for line in shown:
            print(f"  {line}")
        base = statistics.median(results[first])
        print(f"  {'variant':<80} {'CPU ms':>7} {'ratio':>6} {'SQL':>5}")
        for name in cases:
            median = statistics.median(results[name])
            print(f"  {name:<80} {median:>7.2f} {median / base:>6.2f} {queries[name]:>5.1f}")

    if queries_out is not None:
        queries_out.write_text(json.dumps(statements_of(run, page, sign_in, User, shown), indent=2))
        return 0
    compare(
        "sign-in POST, a returning directory user whose entry did not change",
        {name: (makers, sign_in) for name, makers in variants.items()},
    )
    plain_get_user = undo(
        backends.JumpCloudLDAPBackend,
        "get_user",
        lambda self, user_id: User.objects.filter(pk=user_id, is_active=True).first(),
    )
    orm_session = savings["Django's session store (create: SELECT, INSERT, UPDATE; reads by the ORM)"]
    compare(
        "page view: GET /profile/ signed in, against GET /login/ anonymous",
        {
            "signed in, all savings": ([], page("/profile/", True)),
            "anonymous /login/": ([], page("/login/", False)),
            "signed in, undone: user, then profile, by the ORM": (
                [plain_get_user],
                page("/profile/", True),
            ),
            "signed in, undone: the user with profile read by the ORM": (
                [reads_built_by_the_orm()],
                page("/profile/", True),
            ),
            "signed in, undone: the session read by the ORM": ([orm_session], page("/profile/", True)),
            "signed in, undone: a new database connection per request": (
                [new_database_connection_each_request()],
                page("/profile/", True),
            ),
        },
    )
    return 0


def statements_of(
    run: Callable[..., tuple[float, float]],
    page: Callable[[str, bool], Callable[[Any], Callable[[], int]]],
    sign_in: Callable[[Any], Callable[[], int]],
    user_model: Any,
    shown: list[str],
) -> dict[str, list[str]]:
    """The SQL of one request of each kind, with every saving on: ``{kind: [statement, ...]}``."""
    found: dict[str, list[str]] = {}

    def record(kind: str, prepare: Callable[[Any], Callable[[], int]]) -> None:
        shown.clear()
        run([], 1, prepare)
        found[kind] = list(shown)

    run([], 3, sign_in)  # warm: the user exists, connections are open

    def first_sign_in(caller: Any) -> Callable[[], int]:
        user_model.objects.filter(username="linus").delete()
        return sign_in(caller)

    record("sign-in, returning directory user (POST)", sign_in)
    record("sign-in, first of a directory user (POST)", first_sign_in)
    record("page view, authenticated /profile/", page("/profile/", True))
    record("page view, anonymous /login/", page("/login/", False))
    return found


if __name__ == "__main__":
    sys.exit(main())
