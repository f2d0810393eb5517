"""Naming a TLS failure. libldap reports a certificate it will not accept as a bare connect error
("(unknown error code)"), so after one, the same handshake is tried with Python's ssl, which
says why: the certificate does not chain to a trusted CA, or it does not name the host."""

from __future__ import annotations

import socket
import ssl
import urllib.parse

# LDAP's StartTLS extended request, message id 1 (ldap_doctor sends the same bytes; it imports the
# sign-in backend, which needs this module, so the constant cannot live there).
STARTTLS_REQUEST = b"\x30\x1d\x02\x01\x01\x77\x18\x80\x16" + b"1.3.6.1.4.1.1466.20037"
NOT_TRUSTED = "certificate not trusted"
HOST_MISMATCH = "host name mismatch"
# OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH (an ldap://10.0.0.5 URI)
_NAME_MISMATCH_CODES = (62, 64)


def name_tls_failure(uri: str, *, start_tls: bool, ca_file: str | None, timeout: float) -> str:
    """ "certificate not trusted: ..." or "host name mismatch: ...", or "" when the handshake
    succeeds or fails for another reason (nothing listening, no TLS at all)."""
    parts = urllib.parse.urlsplit(uri)
    if (parts.scheme == "ldap" and not start_tls) or not parts.hostname:
        return ""
    port = parts.port or (636 if parts.scheme == "ldaps" else 389)
    context = ssl.create_default_context(cafile=ca_file)
    try:
        with socket.create_connection((parts.hostname, port), timeout=max(0.1, timeout)) as raw:
            if parts.scheme == "ldap":
                raw.sendall(STARTTLS_REQUEST)
                raw.recv(256)
            with context.wrap_socket(raw, server_hostname=parts.hostname):
                return ""
    except ssl.SSLCertVerificationError as error:
        if error.verify_code in _NAME_MISMATCH_CODES:
            return f"{HOST_MISMATCH}: {error.verify_message}"
        return f"{NOT_TRUSTED}: {error.verify_message}"
    except (OSError, ssl.SSLError):
        return ""
