"""``python -m ldap_seed``: run the local JumpCloud-shaped directory, or print the personas."""

from __future__ import annotations

import argparse
import logging
import re
import shutil
import signal
import sys
import threading
from pathlib import Path

from ldap_seed import LDIF_DIR, SCHEMA_DIR, SERVICE_DN, USERS_DN, personas, states
from ldap_seed.csv_seed import CsvProblems, write_seed
from ldap_seed.directory import TLS_NAMES, JumpCloudDirectory, LdifFailed, PortInUse, ensure_certificates


def serve(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir)
    try:
        directory = JumpCloudDirectory(
            state_dir,
            host=args.host,
            ldap_port=args.ldap_port,
            ldaps_port=args.ldaps_port,
            ldif_dir=args.ldif_dir,
            schema_dir=args.schema_dir,
            tls_dir=args.tls_dir,
            log_path=args.log_file,
            die_with_parent=True,  # a runner killed with SIGKILL leaves no slapd serving its folder
        )
    except ValueError as error:
        print(f"ldap_seed: {error}", file=sys.stderr)
        return 2
    # Only once the request is known to be one it can serve: a refused one changes nothing.
    if args.reset and state_dir.exists():
        try:
            directory.require_free_ports()
        except PortInUse as error:
            print(f"ldap_seed: {error}", file=sys.stderr)
            return 1
        shutil.rmtree(state_dir)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        directory.start()
    except (PortInUse, LdifFailed) as error:
        print(f"ldap_seed: {error}", file=sys.stderr)
        directory.stop()
        return 1
    print(
        f"ldap_seed: directory ready on {directory.ldap_uri} (StartTLS) and {directory.ldaps_uri}\n"
        f"  base DN {USERS_DN}\n  bind DN {SERVICE_DN}\n  CA certificate {directory.cafile}",
        flush=True,
    )
    stop.wait()
    directory.stop()
    print("ldap_seed: directory stopped", flush=True)
    return 0


def _port(value: str) -> int:
    # ASCII digits only, at most five: not '²' or '٣' (str.isdigit takes both), not 5,000 digits.
    if not re.fullmatch("[0-9]{1,5}", value) or not 1 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 1 to 65535, not {value!r}")
    return int(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ldap_seed", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the seeded directory until SIGTERM or Ctrl-C")
    serve_parser.add_argument("--state-dir", default=".run/ldap", help="data, config, TLS and log (default: .run/ldap)")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--ldap-port", type=_port, default=3389, help="ldap:// with StartTLS (default: 3389)")
    serve_parser.add_argument("--ldaps-port", type=_port, default=3636, help="ldaps:// (default: 3636)")
    serve_parser.add_argument("--reset", action="store_true", help="discard the state folder and seed afresh")
    serve_parser.add_argument(
        "--ldif-dir", type=Path, default=LDIF_DIR, help="seed LDIF folder (default: the committed seed)"
    )
    serve_parser.add_argument(
        "--schema-dir", type=Path, default=SCHEMA_DIR, help="seed schema folder (default: the committed seed)"
    )
    serve_parser.add_argument(
        "--tls-dir",
        type=Path,
        default=None,
        help="ca.crt, server.crt and server.key to use (default: made once in the state folder)",
    )
    serve_parser.add_argument(
        "--log-file", type=Path, default=None, help="slapd's log (default: slapd.log in the state folder)"
    )
    commands.add_parser("personas", help="print the demo personas")
    csv_parser = commands.add_parser("from-csv", help="make seed LDIF from a CSV in JumpCloud's user-import format")
    csv_parser.add_argument(
        "csv", type=Path, help="the CSV (Username, FirstName, LastName, Email, Password, ..., Group1...)"
    )
    csv_parser.add_argument(
        "--out", type=Path, default=Path(".run/seed-ldif"), help="seed folder to write (default: .run/seed-ldif)"
    )
    state_parser = commands.add_parser(
        "state", help="put a user of a running local directory in a JumpCloud account state (as cn=admin)"
    )
    state_parser.add_argument("uid")
    state_parser.add_argument("state", choices=states.STATES)
    state_parser.add_argument(
        "--uri", default="ldap://127.0.0.1:3389", help="the directory (default: ldap://127.0.0.1:3389)"
    )
    certs_parser = commands.add_parser("certs", help="write a local CA and a server certificate (for compose)")
    certs_parser.add_argument("--out", required=True, help="folder for ca.crt, server.crt and server.key")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="ldap_seed: %(message)s")
    if args.command == "personas":
        print(personas.table())
        return 0
    if args.command == "from-csv":
        try:
            notes = write_seed(args.csv, args.out)
        except CsvProblems as problems:
            print(f"ldap_seed: {args.csv} was not loaded:", *problems.problems, sep="\n  ", file=sys.stderr)
            return 1
        for note in notes:
            print(f"ldap_seed: note: {note}", file=sys.stderr)
        print(f"ldap_seed: seed written to {args.out}")
        return 0
    if args.command == "state":
        states.set_state(args.uri, args.uid, args.state)
        print(f"ldap_seed: {args.uid} is {args.state}")
        return 0
    if args.command == "certs":
        ensure_certificates(Path(args.out))
        print(f"ldap_seed: certificates in {args.out} for {', '.join(TLS_NAMES)}")
        return 0
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
