"""The native runner: schema conversion, restarts that keep the data, clear port errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devstack.native import free_port
from ldap_seed import SCHEMA_DIR, SERVICE_DN, SERVICE_PASSWORD, personas, user_dn
from ldap_seed.container import REPO_DIR
from ldap_seed.directory import JumpCloudDirectory, PortInUse, schema_to_ldif, substitute_placeholders


def test_schema_converts_to_cn_config() -> None:
    ldif = schema_to_ldif(SCHEMA_DIR / "jumpcloud.schema")
    assert ldif.startswith("dn: cn=jumpcloud,cn=schema,cn=config\n")
    assert "olcAttributeTypes: ( 1.2.840.113556.1.2.146 NAME 'company'" in ldif
    assert "olcObjectClasses: ( 1.3.6.1.4.1.32473.1.2.1 NAME 'jumpCloudUser'" in ldif
    assert "#" not in ldif


def test_unbalanced_schema_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.schema"
    broken.write_text("attributetype ( 1.2.3 NAME 'x' ")
    with pytest.raises(ValueError, match="closing parenthesis"):
        schema_to_ldif(broken)


def test_placeholders_are_the_images() -> None:
    assert substitute_placeholders("o=x,{{ LDAP_BASE_DN }} {{ LDAP_BACKEND }}") == "o=x,dc=jumpcloud,dc=com mdb"


def test_restart_keeps_changes_and_does_not_reseed(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = JumpCloudDirectory(state)
    first.start()
    try:
        first.modify(f"dn: {user_dn('linus')}\nchangetype: modify\nreplace: title\ntitle: Kept\n")
    finally:
        first.stop()
    assert _no_slapd_for(state)
    second = JumpCloudDirectory(state)
    second.start()
    try:
        result = subprocess.run(
            [
                "ldapsearch",
                "-LLL",
                "-x",
                "-H",
                second.ldap_uri,
                "-D",
                SERVICE_DN,
                "-w",
                SERVICE_PASSWORD,
                "-b",
                user_dn("linus"),
                "-s",
                "base",
                "title",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "title: Kept" in result.stdout
    finally:
        second.stop()
    assert _no_slapd_for(state)


def test_a_start_stopped_half_way_is_made_afresh(tmp_path: Path) -> None:
    """A first start stopped before its seed was done (Ctrl-C, make up's START_SECONDS) leaves a
    config and a database but no "seeded" mark; the next start makes them again instead of
    failing on slapadd ("could not add entry dn="cn=config"") every time after."""
    state = tmp_path / "state"
    first = JumpCloudDirectory(state)
    first.start()
    first.stop()
    (state / "seeded").unlink()  # as if stopped between the config and the seed's end
    second = JumpCloudDirectory(state)
    second.start()
    try:
        assert second.seeded
        answer = subprocess.run(
            ["ldapwhoami", "-x", "-H", second.ldap_uri, "-D", SERVICE_DN, "-w", SERVICE_PASSWORD],
            capture_output=True,
            text=True,
            check=False,
        )
        assert answer.returncode == 0, answer.stderr
    finally:
        second.stop()
    assert _no_slapd_for(state)


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port} on 127.0.0.1 is already in use"):
            JumpCloudDirectory(tmp_path / "state", ldap_port=port).start()


def test_directories_given_no_ports_never_share_one(tmp_path: Path) -> None:
    """CI saw `slapd exited at start` with `ldap://127.0.0.1:38299 ldaps://127.0.0.1:38299`:
    slapdtest's probe (bind port 0, close) had handed out one port twice. Across 400 directories
    (800 ports) the old probe repeated about 25 ports here; none may repeat."""
    ports = []
    for number in range(400):
        directory = JumpCloudDirectory(tmp_path / str(number))
        ports += [directory._port, directory.ldaps_port]
    assert len(set(ports)) == len(ports)


def test_a_directory_given_its_ports_needs_no_portpicker(tmp_path: Path) -> None:
    """The directory image has Debian's python3-ldap and nothing from PyPI (ldap_seed/Dockerfile):
    a directory told its ports (as the image's entry point tells it) must not import portpicker.
    test-containers caught one that did, on every start."""
    construct = (
        "import sys; sys.modules['portpicker'] = None\n"  # any import of it now raises ImportError
        "from pathlib import Path\n"
        "from ldap_seed.directory import JumpCloudDirectory\n"
        f"JumpCloudDirectory(Path({str(tmp_path / 'state')!r}), ldap_port=389, ldaps_port=636)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", construct], cwd=REPO_DIR, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr


def test_one_port_for_both_urls_is_refused_up_front(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ldap:// and ldaps:// need a port each; both were given port 3999"):
        JumpCloudDirectory(tmp_path / "state", ldap_port=3999, ldaps_port=3999)
    JumpCloudDirectory(tmp_path / "plain", ldap_port=3999, ldaps_port=3999, tls=False)  # no ldaps:// to serve
    with pytest.raises(ValueError, match=r"ports are numbers from 1 to 65535, not 70000$"):
        JumpCloudDirectory(tmp_path / "state", ldap_port=70000)
    with pytest.raises(ValueError, match=r"ports are numbers from 1 to 65535, not 70000 or -1$"):
        JumpCloudDirectory(tmp_path / "state", ldap_port=70000, ldaps_port=-1)


def _serve_reset_on_a_kept_folder(state: Path, ports: list[str]) -> subprocess.CompletedProcess[str]:
    """`serve --reset` with ``ports`` on a state folder holding one file, "kept"."""
    state.mkdir()
    (state / "kept").touch()
    try:
        return subprocess.run(
            [sys.executable, "-m", "ldap_seed", "serve", "--reset", "--state-dir", str(state), *ports],
            cwd=REPO_DIR,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:  # a runner that let the ports by started a slapd, which outlives the runner's timeout
        subprocess.run(["pkill", "-KILL", "-f", f"slapd -F {state}/"], check=False)


@pytest.mark.parametrize(
    ("ports", "said"),
    [
        (["--ldap-port", "3999", "--ldaps-port", "3999"], "ldap:// and ldaps:// need a port each"),
        (["--ldap-port", "0"], "a port is a number from 1 to 65535, not '0'"),
        (["--ldaps-port", "65536"], "a port is a number from 1 to 65535, not '65536'"),
        (["--ldap-port", "-1"], "a port is a number from 1 to 65535, not '-1'"),
        (["--ldap-port", "ldap"], "a port is a number from 1 to 65535, not 'ldap'"),
        (["--ldap-port", "3389²"], "a port is a number from 1 to 65535, not '3389²'"),
        (["--ldap-port", "٣٣٨٩"], "a port is a number from 1 to 65535, not '٣٣٨٩'"),
        (["--ldap-port", "3" * 5000], "a port is a number from 1 to 65535, not '333"),
    ],
)
def test_serve_refuses_ports_it_cannot_use_before_changing_anything(
    tmp_path: Path, ports: list[str], said: str
) -> None:
    """With --reset too: a refused serve must not have thrown the state folder away first."""
    state = tmp_path / "state"
    result = _serve_reset_on_a_kept_folder(state, ports)
    assert result.returncode == 2
    assert said in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(path.name for path in state.iterdir()) == ["kept"]


def test_serve_reset_with_a_port_in_use_keeps_the_state_folder(tmp_path: Path) -> None:
    """--reset throws the folder away only for a directory that can then start: with a port
    already taken, the old data stays (it was deleted before the port was checked)."""
    state = tmp_path / "state"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = _serve_reset_on_a_kept_folder(state, ["--ldap-port", str(port), "--ldaps-port", str(free_port())])
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert sorted(path.name for path in state.iterdir()) == ["kept"]


# What the tests' fixture does (devstack.fixtures.start_directory), in a process of its own.
FIXTURE_RUNNER = (
    "import sys, time, django\n"
    "django.setup()\n"
    "from pathlib import Path\n"
    "from devstack.fixtures import start_directory\n"
    "start_directory(Path(sys.argv[1]))\n"
    "print('ldap_seed: directory ready', flush=True)\n"
    "time.sleep(600)\n"
)


@pytest.mark.parametrize("kind", ["ldap_seed serve", "the tests' fixture"])
def test_a_runner_killed_with_sigkill_leaves_no_slapd(tmp_path: Path, kind: str) -> None:
    """A runner cannot stop its slapd when it is killed outright (make up's directory, or a test
    run at CI's timeout); slapd must go with it all the same, or it keeps serving the folder (and
    its ports) with nobody to stop it."""
    state = tmp_path / "state"
    if kind == "ldap_seed serve":
        ports = ["--ldap-port", str(free_port()), "--ldaps-port", str(free_port())]
        command = [sys.executable, "-m", "ldap_seed", "serve", "--state-dir", str(state), *ports]
    else:
        command = [sys.executable, "-c", FIXTURE_RUNNER, str(state)]
    runner = subprocess.Popen(
        command,
        cwd=REPO_DIR,
        env={**os.environ, "PYTHONPATH": f"{REPO_DIR / 'app'}:{REPO_DIR}", "LDAP_TEST_SERVER": "native"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert runner.stdout is not None
        said = ""
        while "directory ready" not in said and runner.poll() is None:  # seeding takes a few seconds
            said += runner.stdout.readline()
        assert "directory ready" in said, said + runner.stdout.read()
        assert not _no_slapd_for(state)
        runner.kill()
        runner.wait()
        deadline = time.monotonic() + 10
        while not _no_slapd_for(state) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _no_slapd_for(state)
    finally:
        runner.kill()
        subprocess.run(["pkill", "-KILL", "-f", f"slapd -F {state}/"], check=False)


def test_the_runner_imports_where_the_c_library_has_no_prctl() -> None:
    """prctl(2) is Linux's. `make up` with Docker on a Mac runs `python -m ldap_seed certs` and
    `personas` on the host, which import the runner: a C library without prctl must not stop it."""
    no_prctl = (
        "import ctypes\n"
        "class LibC:\n"
        "    def __init__(self, *args, **kwargs): pass\n"
        "ctypes.CDLL = LibC\n"  # a C library with no prctl in it
        "from ldap_seed.__main__ import main\n"
        "raise SystemExit(main(['personas']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", no_prctl], cwd=REPO_DIR, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "ada" in result.stdout


def test_persona_table_lists_every_persona() -> None:
    table = personas.table()
    for persona in personas.PERSONAS:
        assert persona.uid in table
        assert persona.password in table
        assert persona.outcome in table


def test_readme_shows_the_persona_table_make_up_prints() -> None:
    readme = (REPO_DIR / "README.md").read_text()
    assert "\n".join(f"  {line}" for line in personas.table().splitlines()) in readme


def _no_slapd_for(state: Path) -> bool:
    for cmdline in Path("/proc").glob("*/cmdline"):
        try:
            if b"slapd" in cmdline.read_bytes() and str(state).encode() in cmdline.read_bytes():
                return False
        except OSError:
            continue
    return True
