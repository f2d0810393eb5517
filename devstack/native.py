"""The native stack (deploy/native.sh) on free ports in a folder of its own: started and stopped
by the tests, the browser suite, the benchmarks and the soak alike."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import portpicker
from dotenv import dotenv_values

from devstack.browser import Browser

REPO_DIR = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A free TCP port on 127.0.0.1, never one portpicker already handed out in this process (two
    bind(0) probes in a row can get the same port, and a stack's two services then collide)."""
    return int(portpicker.pick_unused_port())


@dataclass
class NativeStack:
    run_dir: Path
    app_port: int = field(default_factory=free_port)
    ldap_port: int = field(default_factory=free_port)
    ldaps_port: int = field(default_factory=free_port)
    # The checkout whose deploy/native.sh runs (the benchmark runs an older commit's beside this one).
    checkout: Path = REPO_DIR

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
        native = self.checkout / "deploy/native.sh"
        return subprocess.run([str(native), *args], env=env, capture_output=True, text=True, timeout=60, check=False)

    def up(self, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        result = self.run("up", extra_env=extra_env)
        if result.returncode != 0:
            self.down()  # whatever did start (the directory, say) must not outlive the failure
            raise RuntimeError(f"native stack did not start:\n{result.stdout}\n{result.stderr}")
        return result

    def down(self) -> subprocess.CompletedProcess[str]:
        return self.run("down")

    def browser(self) -> Browser:
        return Browser("127.0.0.1", self.app_port)

    def up_against(self, directory_uri: str, cafile: str, **settings: str) -> None:
        """Start the app alone (``up jumpcloud``) against an already running directory, with the
        demo's settings and ``settings`` on top (local.env's values cannot be overridden otherwise)."""
        values = {k: v or "" for k, v in dotenv_values(REPO_DIR / "deploy/env/local.env").items()}
        values.update(
            LDAP_URI=directory_uri,
            LDAP_CA_CERT_FILE=cafile,
            DATABASE_URL=f"sqlite:///{self.run_dir / 'db.sqlite3'}",
            **settings,
        )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        env_file = self.run_dir / "app.env"
        env_file.write_text("".join(f'{k}="{v}"\n' for k, v in values.items()))
        result = self.run("up", "jumpcloud", extra_env={"JUMPCLOUD_ENV_FILE": str(env_file)})
        if result.returncode != 0:
            self.down()
            raise RuntimeError(f"app did not start:\n{result.stdout}\n{result.stderr}")
