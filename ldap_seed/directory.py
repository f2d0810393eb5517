"""A native slapd that is the compose stack's osixia/openldap, minus the container.

``JumpCloudDirectory`` builds on python-ldap's ``slapdtest.SlapdObject`` (a throwaway slapd
from Debian's binaries) and reproduces what the osixia/openldap:1.5.0 image does on first
start, in the same order:

1. the configuration Debian's ``dpkg-reconfigure slapd`` writes, with osixia's
   ``02-security.ldif`` already applied (database ``{1}mdb`` under ``dc=jumpcloud,dc=com``,
   root DN ``cn=admin,dc=jumpcloud,dc=com``), and the core, cosine, nis and inetorgperson schemas;
2. the custom schemas (``ldap_seed/schema/*.schema``), converted to cn=config entries;
3. the image's own bootstrap LDIF: memberOf (for groupOfUniqueNames, as the image ships it),
   refint and indexes (``IMAGE_BOOTSTRAP_LDIF``);
4. the custom LDIF (``ldap_seed/ldif/*.ldif``) in sorted order, with the image's
   ``{{ LDAP_BASE_DN }}``-style placeholders substituted, files that contain ``changetype`` sent
   to ldapmodify and the others to ldapadd, each tried over ldapi with SASL EXTERNAL first and
   then as cn=admin. Unlike the image, which logs a failing file at debug level and carries on,
   a failing file stops the runner.

It listens on ldap:// (StartTLS offered) and ldaps:// with a certificate from a local CA it
generates, and on an ldapi:// socket for the tools. State lives in one folder: a folder that was
seeded before is started as it is (the image likewise seeds only on first start).
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote_plus

from slapdtest import SlapdObject

from ldap_seed import ADMIN_DN, ADMIN_PASSWORD, DOMAIN, DOMAIN_DN, LDIF_DIR, SCHEMA_DIR

log = logging.getLogger(__name__)

BACKEND = "mdb"
# Debian's dpkg-reconfigure loads these. osixia also loads the ppolicy schema (OpenLDAP 2.4); in
# 2.5 the ppolicy module brings its own, loaded by the seed's 03-password-policy.ldif.
BASE_SCHEMAS = ("core.ldif", "cosine.ldif", "nis.ldif", "inetorgperson.ldif")
# The certificate's names: how the app reaches the directory natively and inside compose.
TLS_NAMES = ("localhost", "127.0.0.1", "openldap")
PLACEHOLDERS = {
    "{{ LDAP_BASE_DN }}": DOMAIN_DN,
    "{{ LDAP_BACKEND }}": BACKEND,
    "{{ LDAP_DOMAIN }}": DOMAIN,
}

# cn=config as osixia's first start leaves it before its own bootstrap LDIF: Debian's package
# configuration plus the image's 02-security.ldif. It is loaded in two parts, the schemas between
# them, because the databases' ACLs name schema attributes (userPassword, shadowLastChange).
CONFIG_GLOBAL = """\
dn: cn=config
objectClass: olcGlobal
cn: config
olcArgsFile: {run_dir}/slapd.args
olcPidFile: {run_dir}/slapd.pid
olcLogLevel: {loglevel}
{tls_config}
dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: /usr/lib/ldap
olcModuleLoad: {{0}}back_{backend}

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema
"""

CONFIG_DATABASES = """\
dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend
olcAccess: {{0}}to * by dn.exact={peercred_dn} manage by * break
olcAccess: {{1}}to dn.exact="" by * read
olcAccess: {{2}}to dn.base="cn=Subschema" by * read

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by dn.exact={peercred_dn} manage by * break

dn: olcDatabase={{1}}{backend},cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}{backend}
olcDbDirectory: {db_dir}
olcSuffix: {suffix}
olcRootDN: {root_dn}
olcRootPW: {root_pw}
olcDbMaxSize: {max_size}
olcDbNoSync: {no_sync}
olcLastMod: TRUE
olcAccess: {{0}}to attrs=userPassword,shadowLastChange by self write by dn="{root_dn}" write by anonymous auth by * none
olcAccess: {{1}}to * by self read by dn="{root_dn}" write by * none
"""

# The suffix entry Debian's package creates from LDAP_DOMAIN and LDAP_ORGANISATION.
SUFFIX_ENTRY = f"""\
dn: {DOMAIN_DN}
objectClass: top
objectClass: dcObject
objectClass: organization
o: JumpCloud
dc: jumpcloud
"""

# What the image itself applies before the custom folder (bootstrap/ldif/03-memberOf.ldif,
# 04-refint.ldif, 05-index.ldif): memberOf for groupOfUniqueNames, which the seed re-points.
IMAGE_BOOTSTRAP_LDIF = """\
dn: cn=module{0},cn=config
changetype: modify
add: olcModuleLoad
olcModuleLoad: memberof
-
add: olcModuleLoad
olcModuleLoad: refint

dn: olcOverlay={0}memberof,olcDatabase={1}{{ LDAP_BACKEND }},cn=config
changetype: add
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {0}memberof
olcMemberOfDangling: ignore
olcMemberOfRefInt: TRUE
olcMemberOfGroupOC: groupOfUniqueNames
olcMemberOfMemberAD: uniqueMember
olcMemberOfMemberOfAD: memberOf

dn: olcOverlay={1}refint,olcDatabase={1}{{ LDAP_BACKEND }},cn=config
changetype: add
objectClass: olcOverlayConfig
objectClass: olcRefintConfig
olcOverlay: {1}refint
olcRefintAttribute: owner
olcRefintAttribute: manager
olcRefintAttribute: uniqueMember
olcRefintAttribute: member
olcRefintAttribute: memberOf

dn: olcDatabase={1}{{ LDAP_BACKEND }},cn=config
changetype: modify
replace: olcDbIndex
olcDbIndex: uid eq
olcDbIndex: mail eq
olcDbIndex: memberOf eq
olcDbIndex: member eq
olcDbIndex: entryCSN eq
olcDbIndex: entryUUID eq
olcDbIndex: objectClass eq
"""


def substitute_placeholders(text: str) -> str:
    """The image's ``sed -i "s|{{ LDAP_BASE_DN }}|...|g"`` over an LDIF file."""
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    return text


def schema_to_ldif(schema_path: Path) -> str:
    """Convert an OpenLDAP ``.schema`` file into the cn=schema,cn=config entry slapd loads."""
    text = "\n".join(line for line in schema_path.read_text().splitlines() if not line.lstrip().startswith("#"))
    name = schema_path.stem
    lines = [f"dn: cn={name},cn=schema,cn=config", "objectClass: olcSchemaConfig", f"cn: {name}"]
    for keyword, definition in _schema_definitions(text):
        attribute = {"attributetype": "olcAttributeTypes", "objectclass": "olcObjectClasses"}
        lines.append(f"{attribute[keyword]}: {definition}")
    return "\n".join(lines) + "\n"


def _schema_definitions(text: str) -> list[tuple[str, str]]:
    """Each ``attributetype ( ... )`` / ``objectclass ( ... )``, parentheses balanced outside quotes."""
    definitions = []
    for match in re.finditer(r"\b(attributetype|objectclass)\s*\(", text, re.IGNORECASE):
        depth, quoted, start = 0, False, match.end() - 1
        for end in range(start, len(text)):
            char = text[end]
            if char == "'":
                quoted = not quoted
            elif not quoted and char == "(":
                depth += 1
            elif not quoted and char == ")":
                depth -= 1
                if depth == 0:
                    break
        else:
            raise ValueError(f"{match.group(1)} without its closing parenthesis in schema")
        definition = " ".join(text[start : end + 1].split())
        definitions.append((match.group(1).lower(), definition))
    return definitions


def ensure_certificates(tls_dir: Path, names: tuple[str, ...] = TLS_NAMES) -> None:
    """A local CA and a server certificate signed by it, generated once per state folder."""
    if (tls_dir / "server.key").exists():
        return
    import trustme

    tls_dir.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="ldap_seed local CA")
    server = ca.issue_cert(*names)
    ca.cert_pem.write_to_path(str(tls_dir / "ca.crt"))
    server.cert_chain_pems[0].write_to_path(str(tls_dir / "server.crt"))
    key_path = tls_dir / "server.key"
    server.private_key_pem.write_to_path(str(key_path))
    key_path.chmod(0o600)


# slapd's stats log: "conn=1004 op=2 SRCH base=..." (a RESULT line follows each operation).
_OPERATION = re.compile(rb"conn=(\d+) op=(\d+) (BIND|SRCH|CMP|MOD|ADD|DEL|MODRDN|EXT) ")


def operations_in_log(log_path: Path, offset: int = 0) -> Counter[str]:
    """Operations a slapd stats log holds after byte ``offset``, by kind."""
    with open(log_path, "rb") as log_file:
        log_file.seek(offset)
        text = log_file.read()
    kinds = {(conn, op): kind.decode() for conn, op, kind in _OPERATION.findall(text)}
    return Counter(kinds.values())


class LdifFailed(RuntimeError):
    pass


def modify_as_admin(ldap_uri: str, ldif: str) -> None:
    """ldapmodify as the database's root DN (the local directory's demo admin)."""
    args = ["ldapmodify", "-H", ldap_uri, "-x", "-D", ADMIN_DN, "-w", ADMIN_PASSWORD]
    result = subprocess.run(args, input=substitute_placeholders(ldif).encode(), capture_output=True, check=False)
    if result.returncode != 0:
        raise LdifFailed(result.stderr.decode(errors="replace").strip())


class PortInUse(RuntimeError):
    pass


def _require_free_port(host: str, port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise PortInUse(
                f"port {port} on {host} is already in use; stop what holds it or pick another port"
            ) from None


# prctl(2) from the C library, looked up here and not in the child between fork and exec. Linux
# only: elsewhere (a Mac running `make up` with Docker imports this module for its certificates)
# there is none, and a slapd is not tied to its runner.
_PRCTL = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _dies_with(parent: int) -> Callable[[], None]:
    """A ``preexec_fn`` for a child that must not outlive ``parent`` (a pid): PR_SET_PDEATHSIG
    sends it SIGTERM when the thread that forked it exits (prctl(2); where the C library has no
    prctl, nothing is set). If ``parent`` was already gone before the call, the child exits at
    once instead of running orphaned."""

    def set_death_signal() -> None:
        if _PRCTL is not None:
            _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:
            os._exit(1)

    return set_death_signal


def _free_port() -> int:
    """A free TCP port for a directory given none (the tests' and the benchmarks'), never one
    already handed out in this process. slapdtest's probe binds port 0 and closes it, and two
    probes in a row can get the same port: slapd then exited at start on its second URL.
    portpicker is a dev dependency, imported here: the directory image (Debian's python3-ldap
    alone) and native.sh always name their ports."""
    import portpicker

    return int(portpicker.pick_unused_port())


class JumpCloudDirectory(SlapdObject):  # type: ignore[misc]
    """A seeded, JumpCloud-shaped slapd in ``state_dir``; see the module docstring."""

    database = BACKEND
    suffix = DOMAIN_DN
    root_cn = "admin"
    root_pw = ADMIN_PASSWORD
    slapd_loglevel = "stats"
    openldap_schema_files = BASE_SCHEMAS

    def __init__(
        self,
        state_dir: Path,
        *,
        host: str = "127.0.0.1",
        ldap_port: int = 0,
        ldaps_port: int = 0,
        ephemeral: bool = False,
        tls: bool = True,
        schema_dir: Path = SCHEMA_DIR,
        ldif_dir: Path = LDIF_DIR,
        max_size: int = 1 << 30,
        durable: bool = True,
        tls_dir: Path | None = None,
        log_path: Path | None = None,
        die_with_parent: bool = False,
    ) -> None:
        self.local_host = host
        # True: slapd is sent SIGTERM when the thread that started it exits, however it exits
        # (kill -9 included). For `serve`, whose main thread lives as long as the directory; not
        # for a test or benchmark that restarts slapd from a thread that then ends.
        self.die_with_parent = die_with_parent
        super().__init__()
        self.state_dir = Path(state_dir).resolve()
        self.ephemeral = ephemeral
        self.tls = tls  # False: a directory that cannot do TLS at all (no StartTLS, no ldaps://)
        self.schema_dir = schema_dir
        self.ldif_dir = ldif_dir
        self.max_size = max_size
        # durable=False skips the fsync after each write: for generated directories that a test
        # or benchmark loads in bulk and throws away, never for one whose data matters.
        self.durable = durable
        # (slapdtest's __init__ has already probed a port of its own; it is not used.)
        self._port = ldap_port or _free_port()
        self.ldaps_port = ldaps_port or _free_port()
        out_of_range = [port for port in (self._port, self.ldaps_port) if not 0 < port < 65536]
        if out_of_range:
            raise ValueError(f"ports are numbers from 1 to 65535, not {' or '.join(map(str, out_of_range))}")
        if tls and self._port == self.ldaps_port:
            raise ValueError(f"ldap:// and ldaps:// need a port each; both were given port {self._port}")
        self.testrundir = str(self.state_dir)
        self._slapd_conf = str(self.state_dir / "slapd.d")
        self._db_directory = str(self.state_dir / "data")
        # tls_dir: certificates made elsewhere (the directory image reads compose's mounted ones).
        self.tls_dir = Path(tls_dir).resolve() if tls_dir else self.state_dir / "tls"
        self.cafile = str(self.tls_dir / "ca.crt")
        self.servercert = str(self.tls_dir / "server.crt")
        self.serverkey = str(self.tls_dir / "server.key")
        # log_path: slapd's stats log elsewhere (the directory image: /dev/stdout, the container's log).
        self.log_path = Path(log_path) if log_path else self.state_dir / "slapd.log"
        self.ldap_uri = f"ldap://{host}:{self._port}"
        self.ldaps_uri = f"ldaps://{host}:{self.ldaps_port}"
        self.ldapi_uri = "ldapi://" + quote_plus(str(self.state_dir / "ldapi"))
        self.default_ldap_uri = self.ldapi_uri
        self.cli_sasl_external = True

    @property
    def seeded(self) -> bool:
        return (self.state_dir / "seeded").exists()

    # -- slapdtest hooks ---------------------------------------------------------------------

    def setup_rundir(self) -> None:
        for path in (self.state_dir, Path(self._db_directory), Path(self._slapd_conf)):
            path.mkdir(parents=True, exist_ok=True)

    def _cleanup_rundir(self) -> None:
        # A state folder outlives the process unless it was made for one run (tests).
        if self.ephemeral:
            super()._cleanup_rundir()

    def gen_config(self) -> str:
        return (CONFIG_GLOBAL + "\n" + CONFIG_DATABASES).format(
            run_dir=self.state_dir,
            tls_dir=self.tls_dir,
            loglevel=self.slapd_loglevel,
            tls_config=(
                f"olcTLSCACertificateFile: {self.tls_dir}/ca.crt\n"
                f"olcTLSCertificateFile: {self.tls_dir}/server.crt\n"
                f"olcTLSCertificateKeyFile: {self.tls_dir}/server.key\n"
                "olcTLSVerifyClient: try\n"
                if self.tls
                else ""
            ),
            backend=self.database,
            peercred_dn=f"gidNumber={os.getgid()}+uidNumber={os.getuid()},cn=peercred,cn=external,cn=auth",
            db_dir=self._db_directory,
            suffix=self.suffix,
            root_dn=self.root_dn,
            root_pw=self.root_pw,
            max_size=self.max_size,
            no_sync="FALSE" if self.durable else "TRUE",
        )

    def _write_config(self) -> None:
        global_part, databases_part = self.gen_config().split("\n\n" + "dn: olcDatabase={-1}", 1)
        self.slapadd(global_part, ["-n0"])
        for schema in self.openldap_schema_files:
            self.slapadd(None, ["-n0", "-l", os.path.join(self.SCHEMADIR, schema)])
        for schema_path in sorted(self.schema_dir.glob("*.schema")):
            self.slapadd(schema_to_ldif(schema_path), ["-n0"])
        self.slapadd("dn: olcDatabase={-1}" + databases_part, ["-n0"])
        self.slapadd(SUFFIX_ENTRY, ["-n1"])

    def _start_slapd(self) -> None:
        urls = " ".join(
            (self.ldap_uri, self.ldaps_uri, self.ldapi_uri) if self.tls else (self.ldap_uri, self.ldapi_uri)
        )
        # -d stats: one line per connection and operation in slapd.log (what was asked, and by whom)
        args = [self.PATH_SLAPD, "-F", self._slapd_conf, "-h", urls, "-d", "stats"]
        log.info("starting slapd: %s", " ".join(args))
        with open(self.log_path, "ab") as log_file:
            self._proc = subprocess.Popen(
                args,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                preexec_fn=_dies_with(os.getpid()) if self.die_with_parent else None,
            )
        deadline = time.monotonic() + 10
        while True:
            if self._proc.poll() is not None:
                self._stopped()
                raise RuntimeError(f"slapd exited at start; see {self.log_path}")
            try:
                self.ldapwhoami()
            except RuntimeError:
                if time.monotonic() >= deadline:
                    raise RuntimeError(f"slapd did not answer within 10 s; see {self.log_path}") from None
                time.sleep(0.1)
            else:
                return

    # -- lifecycle ---------------------------------------------------------------------------

    def require_free_ports(self) -> None:
        """Raises PortInUse naming the first of this directory's ports that something holds."""
        for port in (self._port, self.ldaps_port) if self.tls else (self._port,):
            _require_free_port(self.local_host, port)

    def start(self) -> None:
        if self._proc is not None:
            return
        self.require_free_ports()
        if self.seeded:
            self._start_slapd()
            return
        self._cleanup_rundir()
        # Not seeded but not empty: a start that was stopped half-way (Ctrl-C, a timeout) left a
        # config and a database that slapadd would refuse to add to. They are made afresh; the
        # certificates are kept.
        for half_made in (Path(self._slapd_conf), Path(self._db_directory)):
            shutil.rmtree(half_made, ignore_errors=True)
        self.setup_rundir()
        ensure_certificates(self.tls_dir)
        self._write_config()
        self._test_config()
        self._start_slapd()
        self.apply_ldif(IMAGE_BOOTSTRAP_LDIF, source="image bootstrap")
        for ldif_path in sorted(self.ldif_dir.glob("*.ldif")):
            self.apply_ldif(ldif_path.read_text(encoding="utf-8"), source=ldif_path.name)
        (self.state_dir / "seeded").touch()

    # -- what clients asked ------------------------------------------------------------------

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def operations_since(self, offset: int) -> Counter[str]:
        """Operations slapd logged after ``offset`` (a ``log_size()``), by kind: BIND, SRCH, CMP, EXT..."""
        return operations_in_log(self.log_path, offset)

    def halt(self) -> None:
        """Stop slapd and keep its state, as a directory that goes down does (``resume`` restarts it)."""
        self.terminate()
        self.wait()

    def freeze(self) -> None:
        """Stop answering without closing sockets (SIGSTOP), as a hung directory does."""
        self._proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._proc.send_signal(signal.SIGCONT)

    # -- loading LDIF ------------------------------------------------------------------------

    def apply_ldif(self, text: str, *, source: str = "ldif") -> None:
        """Load one LDIF file the way the image's ``ldap_add_or_modify`` does."""
        text = substitute_placeholders(text)
        tool = self.PATH_LDAPMODIFY if re.search("changetype", text, re.IGNORECASE) else self.PATH_LDAPADD
        attempts = (
            [tool, "-H", self.ldapi_uri, "-Y", "EXTERNAL", "-Q"],
            [tool, "-H", self.ldap_uri, "-x", "-D", ADMIN_DN, "-w", self.root_pw],
        )
        error = ""
        for args in attempts:
            result = subprocess.run(args, input=text.encode(), capture_output=True)
            if result.returncode == 0:
                log.info("loaded %s", source)
                return
            error = result.stderr.decode(errors="replace").strip()
        raise LdifFailed(f"{source} did not load: {error}")

    def load_generated(self, count: int) -> None:
        """Add ``count`` generated users (ldap_seed.generate) and their group memberships, as cn=admin."""
        from ldap_seed import generate

        for tool, records in (("ldapadd", generate.users_ldif(count)), ("ldapmodify", generate.groups_ldif(count))):
            args = [tool, "-H", self.ldap_uri, "-x", "-D", ADMIN_DN, "-w", ADMIN_PASSWORD]
            result = subprocess.run(args, input="\n".join(records).encode(), capture_output=True, check=False)
            if result.returncode != 0:
                raise LdifFailed(f"generated {tool} failed: {result.stderr.decode(errors='replace').strip()}")

    def modify(self, ldif: str) -> None:
        """Apply a change as cn=admin (tests use this to change the directory between sign-ins)."""
        modify_as_admin(self.ldap_uri, ldif)

    def _cli_auth_args(self) -> list[str]:
        return ["-Y", "EXTERNAL", "-Q"]
