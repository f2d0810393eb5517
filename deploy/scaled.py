"""The scaled-out stack on one machine, from Debian's packages: what `make up-scaled` starts.

    PostgreSQL (a cluster of its own)   Redis (the shared cache)   the directory (ldap_seed's slapd)
    three gunicorn replicas of the app on their own ports, HAProxy in front (round robin, no
    stickiness, health checks on /healthz, retries routed around a dead replica)

    python deploy/scaled.py up      start (a second `up` finds the first and starts nothing)
    python deploy/scaled.py down    stop exactly what `up` started, newest first
    python deploy/scaled.py ps | logs | kill N | start N   (N: replica 1, 2 or 3)

Everything lives in one state folder (SCALED_RUN_DIR, default .run/scaled): data, logs, pid files,
the HAProxy stats socket, generated passwords, and stack.json with the ports in use. Ports default
to 28080 (HAProxy), 28081-28083 (replicas), 28432 (PostgreSQL), 28379 (Redis), 28389/28636 (the
directory); SCALED_*_PORT variables move them. The tests build a ScaledStack on free ports.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import portpicker

REPO_DIR = Path(__file__).resolve().parents[1]
VENV_BIN = REPO_DIR / ".venv/bin"
PACKAGES = {"postgresql": "pg_ctl (PostgreSQL)", "redis-server": "redis-server", "haproxy": "haproxy"}


class StackError(RuntimeError):
    pass


def _tail(log: Path, lines: int = 15) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def _postgres_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if not versions:
        raise StackError("PostgreSQL is not installed: run `make deps-scaled` (as root) or apt-get install postgresql")
    return versions[-1].parent


def missing_programs() -> list[str]:
    """Debian packages the stack needs that are not installed (empty: all there)."""
    missing = [] if list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")) else ["postgresql"]
    missing += [name for name in ("redis-server", "haproxy") if shutil.which(name) is None]
    return missing


def port_taken(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _env_port(name: str, default: int) -> int:
    value = os.environ.get(name, str(default))
    # ASCII digits only, at most five (as native.sh and ldap_seed's): not '²' or '٣', not 5,000 digits.
    if not re.fullmatch("[0-9]{1,5}", value):
        raise StackError(f"{name} must be a port number, not {value!r}")
    return int(value)


@dataclass
class Ports:
    proxy: int = field(default_factory=lambda: _env_port("SCALED_PROXY_PORT", 28080))
    replicas: list[int] = field(
        default_factory=lambda: [_env_port(f"SCALED_REPLICA{n}_PORT", 28080 + n) for n in (1, 2, 3)]
    )
    postgres: int = field(default_factory=lambda: _env_port("SCALED_POSTGRES_PORT", 28432))
    redis: int = field(default_factory=lambda: _env_port("SCALED_REDIS_PORT", 28379))
    ldap: int = field(default_factory=lambda: _env_port("SCALED_LDAP_PORT", 28389))
    ldaps: int = field(default_factory=lambda: _env_port("SCALED_LDAPS_PORT", 28636))

    def __post_init__(self) -> None:
        ports = self.all()
        if not all(1 <= port <= 65535 for port in ports):
            raise StackError(f"ports must be between 1 and 65535: {ports}")
        if len(set(ports)) != len(ports):
            raise StackError(f"each service needs a port of its own, but one is given twice: {ports}")

    @classmethod
    def free(cls) -> Ports:
        """Eight free ports on 127.0.0.1 (the tests' and the soak's stacks), all different: portpicker
        never hands out one port twice in a process, as two bind(0) probes in a row can."""
        proxy, app1, app2, app3, postgres, redis, ldap, ldaps = (portpicker.pick_unused_port() for _ in range(8))
        return cls(proxy, [app1, app2, app3], postgres, redis, ldap, ldaps)

    def all(self) -> list[int]:
        return [self.proxy, *self.replicas, self.postgres, self.redis, self.ldap, self.ldaps]


class ScaledStack:
    """The stack in ``state_dir``. Processes run in sessions of their own, so they outlive this
    object (the CLI exits after `up`) and a replica can be killed whole, master and workers."""

    def __init__(self, state_dir: Path, ports: Ports | None = None, app_env: dict[str, str] | None = None) -> None:
        self.state_dir = state_dir.resolve()
        saved = self.state_dir / "stack.json"
        if ports is None and saved.exists():
            data = json.loads(saved.read_text())
            ports, app_env = Ports(**data["ports"]), {**data["app_env"], **(app_env or {})}
        self.ports = ports or Ports()
        self.extra_env = app_env or {}
        self.as_root = os.geteuid() == 0
        # What this object started, by name: a wait for one of them ends when it exits.
        self._started: dict[str, subprocess.Popen[bytes]] = {}

    # -- where things are ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports.proxy}"

    def replica_url(self, number: int) -> str:
        """``number`` counts from 1, as the CLI and the HAProxy server names (app1..app3) do."""
        return f"http://127.0.0.1:{self.ports.replicas[number - 1]}"

    def _pid_file(self, name: str) -> Path:
        return self.state_dir / f"{name}.pid"

    def _log(self, name: str) -> Path:
        return self.state_dir / f"{name}.log"

    def _secret(self, name: str) -> str:
        path = self.state_dir / f"{name}.password"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(18))
            path.chmod(0o600)
        return path.read_text()

    @property
    def database_url(self) -> str:
        return f"postgres://django:{self._secret('postgres')}@127.0.0.1:{self.ports.postgres}/django"

    @property
    def redis_url(self) -> str:
        return f"redis://:{self._secret('redis')}@127.0.0.1:{self.ports.redis}/0"

    @property
    def ldap_uri(self) -> str:
        return f"ldap://127.0.0.1:{self.ports.ldap}"

    def app_environment(self) -> dict[str, str]:
        """The replicas' environment: deploy/env/local.env, then what this stack places elsewhere."""
        from dotenv import dotenv_values

        values = {k: v or "" for k, v in dotenv_values(REPO_DIR / "deploy/env/local.env").items()}
        values.update(
            # the deployment's settings, even when started from the test suite (whose own are inherited)
            DJANGO_SETTINGS_MODULE="config.settings",
            LDAP_URI=self.ldap_uri,
            LDAP_CA_CERT_FILE=str(self.state_dir / "ldap/tls/ca.crt"),
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            DJANGO_PROXY_COUNT="1",  # HAProxy adds X-Forwarded-For: the lockout keys on the client
            GUNICORN_WORKERS="1",  # three replicas share this machine's cores
            GUNICORN_THREADS="4",
        )
        values.update(self.extra_env)
        return {**os.environ, **values}

    # -- processes -------------------------------------------------------------------------------

    def _pid(self, name: str) -> int | None:
        """The pid of the process this stack started as ``name``, if it still runs. A pid file holds
        the pid and the process's start time (proc(5), field 22): after a crash or a reboot the pid
        may name another process, which is not ours and is never stopped as ours."""
        try:
            pid_text, *started = self._pid_file(name).read_text().split()
            pid = int(pid_text)
        except (OSError, ValueError):
            return None  # no file, or not a pid file (empty, cut short)
        found = _process_start(pid)
        if found is None:
            return None
        if started:
            return pid if started == [found] else None
        # Written before pid files held a start time: ours if its command line or environment
        # names this stack (stopping a stack started before an upgrade must still work).
        return pid if self._names_this_stack(pid, name) else None

    def _names_this_stack(self, pid: int, name: str) -> bool:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            return False
        if name.startswith("app"):  # a replica: gunicorn on this stack's port for it
            bind = f"GUNICORN_BIND=127.0.0.1:{self.ports.replicas[int(name[3:]) - 1]}".encode()
            return b"deploy/gunicorn.conf.py" in cmdline and bind in environ
        return str(self.state_dir).encode() in cmdline

    def _write_pid(self, name: str, pid: int) -> None:
        """``pid`` and its start time, written whole (a rename) so that a reader never sees half."""
        path = self._pid_file(name)
        partial = path.with_suffix(".pid.partial")
        partial.write_text(f"{pid} {_process_start(pid)}")
        partial.replace(path)

    def running(self, name: str) -> bool:
        return self._pid(name) is not None

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = self._log(name).open("ab")
        process = subprocess.Popen(
            args, cwd=REPO_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        self._write_pid(name, process.pid)
        self._started[name] = process
        return process

    def _wait(self, what: str, ready: Callable[[], bool], seconds: float, name: str) -> None:
        """Until ``ready()``. Raises ``StackError`` with the last lines of ``name``'s log after
        ``seconds``, or as soon as the process this object started as ``name`` has exited (a
        replica whose app cannot load is not waited on for its whole minute)."""
        log = self._log(name)
        process = self._started.get(name)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if ready():
                return
            if process is not None and process.poll() is not None:
                raise StackError(
                    f"{what} exited before it was ready (exit code {process.returncode}); "
                    f"last lines of {log}:\n{_tail(log)}"
                )
            time.sleep(0.1)
        raise StackError(f"{what} did not become ready within {seconds:.0f} s; last lines of {log}:\n{_tail(log)}")

    def _as_postgres(self, args: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args] if self.as_root else args

    def start_postgres(self) -> None:
        if self.running("postgres"):
            return
        bindir = _postgres_bin()
        home = self.state_dir / "postgres"
        data = home / "data"
        if not (data / "PG_VERSION").exists():
            home.mkdir(parents=True, exist_ok=True)
            pwfile = home / "initdb.pw"
            pwfile.write_text(self._secret("postgres"))
            if self.as_root:
                shutil.chown(home, "postgres", "postgres")
                shutil.chown(pwfile, "postgres", "postgres")
            result = subprocess.run(
                self._as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "django", f"--pwfile={pwfile}",
                                   "--auth-host=scram-sha-256", "--auth-local=reject", "-E", "UTF8", "--locale=C",
                                   "--no-sync"]),
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            pwfile.unlink()
            if result.returncode:
                raise StackError(f"initdb failed: {result.stderr.strip()}")
        options = f"-c listen_addresses=127.0.0.1 -c port={self.ports.postgres} -c unix_socket_directories=''"
        result = subprocess.run(
            self._as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(home / "postgres.log"),
                               "-o", options, "-w", "-t", "60", "start"]),
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode:
            raise StackError(f"PostgreSQL did not start: {result.stdout.strip()} {result.stderr.strip()}")
        self._write_pid("postgres", int((data / "postmaster.pid").read_text().split()[0]))
        self._create_database()

    def _create_database(self) -> None:
        import psycopg

        with psycopg.connect(self.database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
            if not connection.execute("SELECT 1 FROM pg_database WHERE datname = 'django'").fetchone():
                connection.execute("CREATE DATABASE django")

    def stop_postgres(self) -> None:
        data = self.state_dir / "postgres/data"
        if self.running("postgres"):
            subprocess.run(
                self._as_postgres([str(_postgres_bin() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                capture_output=True, check=False,
            )  # fmt: skip
        self._pid_file("postgres").unlink(missing_ok=True)

    def start_redis(self) -> None:
        if self.running("redis"):
            return
        home = self.state_dir / "redis"
        home.mkdir(parents=True, exist_ok=True)
        config = home / "redis.conf"
        # the password goes in a file only this user reads, not on a command line others can see
        config.write_text(
            f'bind 127.0.0.1\nport {self.ports.redis}\ndir {home}\nsave ""\nappendonly no\n'
            f"requirepass {self._secret('redis')}\nmaxmemory 128mb\nmaxmemory-policy allkeys-lru\n"
        )
        config.chmod(0o600)
        self._spawn("redis", ["redis-server", str(config)])
        self._wait("Redis", lambda: port_taken(self.ports.redis), 15, "redis")

    def start_directory(self) -> None:
        if self.running("ldap"):
            return
        log = self._log("ldap")
        offset = log.stat().st_size if log.exists() else 0
        self._spawn(
            "ldap",
            [str(VENV_BIN / "python"), "-m", "ldap_seed", "serve", "--state-dir", str(self.state_dir / "ldap"),
             "--ldap-port", str(self.ports.ldap), "--ldaps-port", str(self.ports.ldaps)],
        )  # fmt: skip
        self._wait("the directory", lambda: b"directory ready" in log.read_bytes()[offset:], 30, "ldap")

    def migrate(self) -> None:
        result = subprocess.run(
            [str(VENV_BIN / "python"), "app/manage.py", "migrate", "--noinput"],
            cwd=REPO_DIR, env=self.app_environment(), capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode:
            raise StackError(f"migrations failed: {result.stderr.strip()[-2000:]}")

    def replica_healthy(self, number: int) -> bool:
        try:
            with urllib.request.urlopen(f"{self.replica_url(number)}/healthz", timeout=2) as answer:  # noqa: S310
                return bool(answer.status == 200)
        except OSError:
            return False

    def start_replica(self, number: int, *, wait: bool = True) -> None:
        name = f"app{number}"
        if self.running(name):
            return
        if port_taken(self.ports.replicas[number - 1]):
            raise StackError(f"port {self.ports.replicas[number - 1]} is already in use (replica {number})")
        env = {**self.app_environment(), "GUNICORN_BIND": f"127.0.0.1:{self.ports.replicas[number - 1]}"}
        self._spawn(name, [str(VENV_BIN / "gunicorn"), "--config", "deploy/gunicorn.conf.py"], env)
        if wait:
            self._wait(f"replica {number}", lambda: self.replica_healthy(number), 60, name)

    def kill_replica(self, number: int) -> None:
        """SIGKILL to the replica's whole process group (master and workers), as a node dying would."""
        pid = self._pid(f"app{number}")
        if pid is not None:
            os.killpg(pid, signal.SIGKILL)
            _reap(pid)
        self._pid_file(f"app{number}").unlink(missing_ok=True)

    def haproxy_config(self) -> str:
        servers = "\n".join(
            f"    server app{n} 127.0.0.1:{port}" for n, port in enumerate(self.ports.replicas, start=1)
        )
        return f"""# Generated by deploy/scaled.py for this stack; rewritten at every start.
global
    log stdout format raw local0 info
    stats socket {self.state_dir / "haproxy.sock"} mode 600 level admin
    maxconn 1000

defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 60s
    # a sign-in waits on the directory at most about twice LDAP_TIMEOUT
    timeout server 30s
    timeout http-keep-alive 10s

frontend web
    bind 127.0.0.1:{self.ports.proxy}
    option forwardfor
    default_backend app

backend app
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server check inter 1s fall 2 rise 2
    # a replica that refuses the connection or dies mid-answer: try another one
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout
    # replayed only where a repeat is harmless: reads, and the sign-in form (a second try of the same
    # credentials); any other POST that reached a dying replica gets its error, not a second run
    acl replay_safe method GET HEAD OPTIONS
    acl sign_in path /login/
    http-request disable-l7-retry unless replay_safe || sign_in
    http-response set-header X-Served-By %s
{servers}
"""

    def start_haproxy(self) -> None:
        if self.running("haproxy"):
            return
        if port_taken(self.ports.proxy):
            raise StackError(f"port {self.ports.proxy} is already in use (HAProxy)")
        config = self.state_dir / "haproxy.cfg"
        config.write_text(self.haproxy_config())
        check = subprocess.run(["haproxy", "-c", "-q", "-f", str(config)], capture_output=True, text=True, check=False)
        if check.returncode:
            raise StackError(f"HAProxy refuses its configuration: {check.stdout} {check.stderr}")
        self._spawn("haproxy", ["haproxy", "-db", "-f", str(config)])
        self._wait("HAProxy", lambda: self.haproxy_up_servers() == 3, 20, "haproxy")

    def haproxy_stats(self) -> list[dict[str, str]]:
        """HAProxy's `show stat`: one dict per proxy line (its CSV columns: status, stot, wretr, wredis, ...)."""
        with socket.socket(socket.AF_UNIX) as stats:
            stats.settimeout(2)
            stats.connect(str(self.state_dir / "haproxy.sock"))
            stats.sendall(b"show stat\n")
            chunks = []
            while chunk := stats.recv(65536):
                chunks.append(chunk)
        lines = b"".join(chunks).decode().strip().splitlines()
        header = lines[0].lstrip("# ").split(",")
        return [dict(zip(header, line.split(","), strict=False)) for line in lines[1:]]

    def haproxy_up_servers(self) -> int:
        try:
            rows = self.haproxy_stats()
        except OSError:
            return 0
        return sum(
            1 for row in rows if row["pxname"] == "app" and row["svname"].startswith("app") and row["status"] == "UP"
        )

    # -- the whole stack ---------------------------------------------------------------------------

    def up(self) -> None:
        missing = missing_programs()
        if missing:
            raise StackError(f"missing Debian packages: {' '.join(missing)}; run `make deps-scaled` (as root)")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            self.state_dir.chmod(0o755)  # the postgres user must reach its data folder inside
        (self.state_dir / "stack.json").write_text(json.dumps({"ports": asdict(self.ports), "app_env": self.extra_env}))
        services = [("postgres", self.ports.postgres), ("redis", self.ports.redis), ("ldap", self.ports.ldap),
                    ("ldap", self.ports.ldaps)]  # fmt: skip
        for service, port in services:
            if not self.running(service) and port_taken(port):
                raise StackError(f"port {port} ({service}) is already in use: stop what holds it or set SCALED_*_PORT")
        try:
            self.start_postgres()
            self.start_redis()
            self.start_directory()
            self.migrate()
            for number in (1, 2, 3):
                self.start_replica(number, wait=False)
            for number in (1, 2, 3):
                self._wait(f"replica {number}", lambda n=number: self.replica_healthy(n), 60, f"app{number}")  # type: ignore[misc]
            self.start_haproxy()
        except BaseException:
            self.down()  # nothing half-started outlives a failure
            raise

    def _stop(self, name: str, seconds: float = 15) -> bool:
        pid = self._pid(name)
        self._pid_file(name).unlink(missing_ok=True)
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
        _reap(pid)
        return True

    def down(self) -> list[str]:
        stopped = [name for name in ("haproxy", "app1", "app2", "app3", "ldap", "redis") if self._stop(name)]
        if self.running("postgres"):
            self.stop_postgres()
            stopped.append("postgres")
        return stopped

    def status(self) -> dict[str, bool]:
        return {name: self.running(name) for name in ("postgres", "redis", "ldap", "app1", "app2", "app3", "haproxy")}


def _process_start(pid: int) -> str | None:
    """When ``pid`` started (clock ticks after boot, proc(5) field 22), or None when no such process
    runs (a zombie, exited and not yet waited for, does not run)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a child of this process that has exited stays a zombie until waited for
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _reap(pid: int) -> None:
    for _ in range(50):
        if not _alive(pid):
            return
        time.sleep(0.1)


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    try:
        stack = ScaledStack(Path(os.environ.get("SCALED_RUN_DIR", REPO_DIR / ".run/scaled")))
        if command == "up":
            already = [name for name, running in stack.status().items() if running]
            stack.up()
            print(f"scaled stack {'already running' if len(already) == 7 else 'ready'}: {stack.url} (HAProxy)")
            for number in (1, 2, 3):
                print(f"  replica {number}: {stack.replica_url(number)}")
            print(f"  PostgreSQL 127.0.0.1:{stack.ports.postgres}, Redis 127.0.0.1:{stack.ports.redis}, "
                  f"directory {stack.ldap_uri}; state, logs and passwords in {stack.state_dir}")  # fmt: skip
        elif command == "down":
            stopped = stack.down()
            print(f"scaled stack: stopped {', '.join(stopped)}" if stopped else "scaled stack: nothing was running")
        elif command == "ps":
            for name, running in stack.status().items():
                print(f"{name}: {'running' if running else 'stopped'}")
        elif command == "logs":
            logs = [str(stack._log(name)) for name in ("haproxy", "app1", "app2", "app3", "ldap", "redis")]
            tail = ["tail", "-n", "20", "-F", *logs, str(stack.state_dir / "postgres/postgres.log")]
            os.execvp("tail", tail)  # noqa: S606 - becomes tail, as native.sh's `logs` does
        elif command in ("kill", "start") and len(argv) == 3 and argv[2] in ("1", "2", "3"):
            number = int(argv[2])
            if command == "kill":
                stack.kill_replica(number)
            else:
                stack.start_replica(number)
            print(f"replica {number}: {'killed' if command == 'kill' else 'running'}")
        else:
            print(__doc__)
            return 2
    except StackError as error:
        print(f"scaled: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
