"""deploy/podman.sh's own bookkeeping, without podman: the API's pid file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from devstack.native import REPO_DIR


def test_api_stop_leaves_a_process_that_is_not_the_api_alone(tmp_path: Path) -> None:
    """After a crash or a reboot, api.pid may name a pid that now belongs to someone else."""
    bystander = subprocess.Popen(["sleep", "600"])
    try:
        (tmp_path / "api.pid").write_text(str(bystander.pid))
        result = subprocess.run(
            [str(REPO_DIR / "deploy/podman.sh"), "api", "stop"],
            env={**os.environ, "STATE_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert bystander.poll() is None
        assert not (tmp_path / "api.pid").exists()
    finally:
        bystander.kill()
        bystander.wait()
