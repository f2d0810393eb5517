"""Behind a real reverse proxy (Debian's HAProxy) in front of gunicorn, the lockout and the audit
log see the client's address, not the proxy's; a forwarded-for header from anyone but the proxy
changes nothing.

On loopback every address is local, so the parts are told apart by address: HAProxy reaches
gunicorn from 127.0.0.2 (the one trusted proxy), and each client connects from an address of its
own (127.0.0.3, ...).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.browser import Browser
from devstack.native import NativeStack, free_port
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import BY_UID

pytestmark = pytest.mark.stack

LIMIT = 3
LINUS, GRACE = BY_UID["linus"], BY_UID["grace"]
PROXY_ADDRESS = "127.0.0.2"

HAPROXY_CONFIG = """
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend app
  bind 127.0.0.1:{proxy_port}
  option forwardfor
  default_backend gunicorn
backend gunicorn
  server app 127.0.0.1:{app_port} source {proxy_address}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, directory: JumpCloudDirectory) -> Iterator[NativeStack]:
    native = NativeStack(tmp_path_factory.mktemp("behind-proxy") / "run")
    native.up_against(
        directory.ldap_uri,
        directory.cafile,
        DJANGO_PROXY_COUNT="1",
        DJANGO_TRUSTED_PROXIES=PROXY_ADDRESS,
        AXES_FAILURE_LIMIT=str(LIMIT),
        LDAP_MAX_FAILURES_PER_USER="100",
    )
    yield native
    native.down()


@pytest.fixture(scope="module")
def proxy_port(stack: NativeStack) -> Iterator[int]:
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(haproxy).exists():
        pytest.skip("HAProxy is not installed (make deps installs it as root)")
    port = free_port()
    config = stack.run_dir / "haproxy.cfg"
    config.write_text(HAPROXY_CONFIG.format(proxy_port=port, app_port=stack.app_port, proxy_address=PROXY_ADDRESS))
    process = subprocess.Popen([haproxy, "-db", "-f", str(config)], stderr=subprocess.PIPE, text=True)
    for _ in range(100):
        try:
            Browser("127.0.0.1", port).request("GET", "/healthz")
            break
        except OSError:
            time.sleep(0.05)
    else:
        process.terminate()
        pytest.fail(f"HAProxy did not start: {process.communicate(timeout=10)[1]}")
    yield port
    process.terminate()
    process.wait(timeout=10)


def via_proxy(port: int, client: str, **headers: str) -> Browser:
    return Browser("127.0.0.1", port, source=client, headers=headers)


def audit_lines(stack: NativeStack, username: str) -> list[str]:
    return [line for line in (stack.run_dir / "app.log").read_text().splitlines() if f"for {username!r}" in line]


def test_lockout_and_audit_follow_the_client_behind_the_proxy(stack: NativeStack, proxy_port: int) -> None:
    # The attacker's own header is kept by HAProxy, which appends the address it saw after it.
    attacker = via_proxy(proxy_port, "127.0.0.3", **{"X-Forwarded-For": "203.0.113.66"})
    for _ in range(LIMIT):
        attacker.sign_in(LINUS.uid, "a-wrong-guess")
    assert attacker.sign_in(LINUS.uid, LINUS.password).status == 429

    assert via_proxy(proxy_port, "127.0.0.4").sign_in(LINUS.uid, LINUS.password).status == 302
    lines = audit_lines(stack, LINUS.uid)
    assert sum("sign-in denied for 'linus' from 127.0.0.3: wrong password" in line for line in lines) == LIMIT - 1
    assert any("sign-in success for 'linus' from 127.0.0.4" in line for line in lines)
    assert not any("203.0.113.66" in line or PROXY_ADDRESS in line for line in lines)


def test_a_forwarded_header_sent_past_the_proxy_changes_nothing(stack: NativeStack, proxy_port: int) -> None:
    # Straight to gunicorn, claiming to be the address the real grace will come from.
    direct = Browser("127.0.0.1", stack.app_port, source="127.0.0.5", headers={"X-Forwarded-For": "127.0.0.6"})
    for _ in range(LIMIT):
        direct.sign_in(GRACE.uid, "a-wrong-guess")
    assert direct.sign_in(GRACE.uid, GRACE.password).status == 429

    assert via_proxy(proxy_port, "127.0.0.6").sign_in(GRACE.uid, GRACE.password).status == 302
    lines = audit_lines(stack, GRACE.uid)
    assert sum("sign-in denied for 'grace' from 127.0.0.5: wrong password" in line for line in lines) == LIMIT - 1
    assert any("sign-in success for 'grace' from 127.0.0.6" in line for line in lines)
