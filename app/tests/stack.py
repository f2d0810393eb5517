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


_TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Answer:
    status: int
    body: bytes
    location: str
    served_by: str = ""  # HAProxy's X-Served-By (the scaled stack): which replica answered


class Browser:
    """One person's browser: one keep-alive connection, one cookie jar."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.connection = http.client.HTTPConnection(host, port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Answer:
        headers = {"Host": f"{self.host}:{self.port}"}
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
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
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
