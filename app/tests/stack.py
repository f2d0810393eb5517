"""The native stack (deploy/native.sh) on free ports in a folder of its own, and a browser-like
client for it: keep-alive, cookies, and the sign-in form with its CSRF token (the bench uses it too)."""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

REPO_DIR = Path(__file__).resolve().parents[2]
NATIVE = REPO_DIR / "deploy/native.sh"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class NativeStack:
    run_dir: Path
    app_port: int = field(default_factory=free_port)
    ldap_port: int = field(default_factory=free_port)
    ldaps_port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    def run(self, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "RUN_DIR": str(self.run_dir),
            "APP_PORT": str(self.app_port),
            "LDAP_PORT": str(self.ldap_port),
            "LDAPS_PORT": str(self.ldaps_port),
            **(extra_env or {}),
        }
        return subprocess.run([str(NATIVE), *args], env=env, capture_output=True, text=True, timeout=60, check=False)

    def up(self, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        result = self.run("up", extra_env=extra_env)
        if result.returncode != 0:
            self.down()  # whatever did start (the directory, say) must not outlive the failure
            raise RuntimeError(f"native stack did not start:\n{result.stdout}\n{result.stderr}")
        return result

    def down(self) -> subprocess.CompletedProcess[str]:
        return self.run("down")

    def browser(self) -> Browser:
        return Browser("127.0.0.1", self.app_port)

    def up_against(self, directory_uri: str, cafile: str, **settings: str) -> None:
        """Start the app alone (``up jumpcloud``) against an already running directory, with the
        demo's settings and ``settings`` on top (local.env's values cannot be overridden otherwise)."""
        values = {k: v or "" for k, v in dotenv_values(REPO_DIR / "deploy/env/local.env").items()}
        values.update(
            LDAP_URI=directory_uri,
            LDAP_CA_CERT_FILE=cafile,
            DATABASE_URL=f"sqlite:///{self.run_dir / 'db.sqlite3'}",
            **settings,
        )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        env_file = self.run_dir / "app.env"
        env_file.write_text("".join(f'{k}="{v}"\n' for k, v in values.items()))
        result = self.run("up", "jumpcloud", extra_env={"JUMPCLOUD_ENV_FILE": str(env_file)})
        if result.returncode != 0:
            self.down()
            raise RuntimeError(f"app did not start:\n{result.stdout}\n{result.stderr}")


_TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Answer:
    status: int
    body: bytes
    location: str
    served_by: str = ""  # HAProxy's X-Served-By (the scaled stack): which replica answered


class Browser:
    """One person's browser: one keep-alive connection, one cookie jar. ``source`` is the local
    address to connect from (any 127.x.y.z on loopback), ``headers`` are sent with every request."""

    def __init__(self, host: str, port: int, *, source: str = "", headers: dict[str, str] | None = None) -> None:
        self.host, self.port = host, port
        self.source = (source, 0) if source else None
        self.extra_headers = headers or {}
        self.connection = self._connect()
        self.cookies: dict[str, str] = {}

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=60, source_address=self.source)

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Answer:
        headers = {"Host": f"{self.host}:{self.port}", **self.extra_headers}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://{self.host}:{self.port}{path}"
        for attempt in range(2):
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                payload = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # gunicorn closed a kept-alive connection (max_requests, keepalive timeout): reconnect once
                self.connection.close()
                self.connection = self._connect()
                if attempt:
                    raise
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return Answer(
            response.status, payload, response.getheader("Location") or "", response.getheader("X-Served-By") or ""
        )

    def sign_in(self, username: str, password: str) -> Answer:
        """The login form as a person uses it: GET the page (CSRF cookie and token), POST it."""
        page = self.request("GET", "/login/")
        token = _TOKEN.search(page.body)
        if token is None:
            return page
        return self.request(
            "POST",
            "/login/",
            {"csrfmiddlewaretoken": token.group(1).decode(), "username": username, "password": password},
        )

    def close(self) -> None:
        self.connection.close()
