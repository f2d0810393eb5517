"""The container's health probe: the app answers /healthz. Standard library only.

One file that the image's HEALTHCHECK and compose's healthcheck both run, so the probe is
written once and its command carries no argument with a space in it (podman's
Docker-compatible API splits such arguments, and the probe then never passes).
"""

from __future__ import annotations

import os
import sys
import urllib.request

URL = f"http://127.0.0.1:{os.environ.get('HEALTHCHECK_PORT', '8000')}/healthz"

try:
    with urllib.request.urlopen(URL, timeout=2) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError as error:
    print(f"healthcheck: {URL}: {error}", file=sys.stderr)
    sys.exit(1)
