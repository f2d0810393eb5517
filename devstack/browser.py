"""A browser-like HTTP client for the stacks: keep-alive, cookies, and the sign-in form with its
CSRF token, as a person uses it (tests, the browserless benchmarks and the soak share it)."""

from __future__ import annotations

import http.client
import re
import threading
import urllib.parse
from dataclasses import dataclass

CSRF_TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


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
        token = CSRF_TOKEN.search(page.body)
        if token is None:
            return page
        return self.request(
            "POST",
            "/login/",
            {"csrfmiddlewaretoken": token.group(1).decode(), "username": username, "password": password},
        )

    def close(self) -> None:
        self.connection.close()


def sign_ins_at_once(browsers: list[Browser], usernames: list[str], password: str) -> list[Answer]:
    """Every browser loads the sign-in form first (its CSRF cookie and token); then all post it at
    the same moment (a barrier), each with the next of ``usernames`` in turn and ``password``.
    The answers, in the browsers' order."""
    tokens = []
    for browser in browsers:
        match = CSRF_TOKEN.search(browser.request("GET", "/login/").body)
        if match is None:
            raise AssertionError("the sign-in page holds no CSRF token")
        tokens.append(match.group(1).decode())
    start = threading.Barrier(len(browsers))
    answers: list[Answer | None] = [None] * len(browsers)

    def post(index: int) -> None:
        form = {"csrfmiddlewaretoken": tokens[index], "username": usernames[index % len(usernames)]}
        start.wait()
        answers[index] = browsers[index].request("POST", "/login/", {**form, "password": password})

    threads = [threading.Thread(target=post, args=(index,)) for index in range(len(browsers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if any(answer is None for answer in answers):
        raise AssertionError("a sign-in posted at once got no answer")
    return [answer for answer in answers if answer is not None]
