"""deploy/podman.sh's own bookkeeping, without podman: the API's pid file, and what `wait` waits for."""

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


def test_wait_reports_a_container_that_exited_before_it_began(tmp_path: Path) -> None:
    """The directory container exited at start (an import it could not make) before `wait` listed
    the project's containers; `wait` listed running ones only, said "healthy: ..._app_1", and the
    browser suite then failed on every sign-in. A stand-in podman: the app runs and is healthy, the
    directory has exited."""
    fake = tmp_path / "bin/podman"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        '  ps) echo demo_app_1; case " $* " in *" -a "*) echo demo_openldap_1 ;; esac ;;\n'
        '  healthcheck) [ "$3" = demo_app_1 ] ;;\n'
        '  inspect) case "$*" in *demo_app_1*) echo "running 0" ;; *) echo "exited 0" ;; esac ;;\n'
        "  logs) echo \"ModuleNotFoundError: No module named 'portpicker'\" ;;\n"
        "esac\n"
    )
    fake.chmod(0o755)
    result = subprocess.run(
        [str(REPO_DIR / "deploy/podman.sh"), "wait", "demo", "10"],
        env={**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}", "STATE_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1, result.stdout
    assert "demo_openldap_1 stopped; its last log lines:" in result.stderr
    assert "No module named 'portpicker'" in result.stderr
