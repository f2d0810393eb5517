"""The native stack (deploy/native.sh) on free ports in a folder of its own, and a form client."""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import urllib.parse
import urllib.request
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


class FormClient:
    """Signs in through the login form over HTTP, CSRF token and cookie included, as a browser does."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect())

    def get(self, path: str) -> tuple[int, str, str]:
        return self._send(urllib.request.Request(self.base_url + path))

    def sign_in(self, username: str, password: str) -> tuple[int, str, str]:
        _, page, _ = self.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, "login page without a CSRF token"
        body = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": token.group(1), "username": username, "password": password}
        )
        request = urllib.request.Request(
            self.base_url + "/login/", data=body.encode(), headers={"Referer": self.base_url + "/login/"}
        )
        return self._send(request)

    def _send(self, request: urllib.request.Request) -> tuple[int, str, str]:
        try:
            with self.opener.open(request, timeout=15) as response:
                return response.status, response.read().decode(), response.headers.get("Location", "")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), error.headers.get("Location", "")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None
