"""A throwaway local PostgreSQL cluster (initdb + pg_ctl), for runs without DATABASE_URL.

initdb refuses to run as root, so as root the cluster belongs to the `postgres` system
user and its commands run through runuser.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from attesta_devnet.ports import free_port


def _bindir() -> Path:
    for candidate in (shutil.which("pg_ctl"), shutil.which("initdb")):
        if candidate:
            return Path(candidate).parent
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
        return Path(out.stdout.strip())
    except (OSError, subprocess.CalledProcessError) as exc:
        raise RuntimeError("PostgreSQL server binaries not found (install postgresql)") from exc


class PostgresCluster:
    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self._bin = _bindir()
        self._as_root = os.geteuid() == 0
        self.user = "postgres"
        self.url = f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self._bin / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True)

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._as_root:
            owner = pwd.getpwnam("postgres")
            for path in (self.data_dir, *self.data_dir.parents):
                if path == Path("/"):
                    break
                os.chmod(path, os.stat(path).st_mode | 0o011)  # let postgres traverse
            os.chown(self.data_dir, owner.pw_uid, owner.pw_gid)
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                "initdb", "-D", str(self.data_dir), "--auth=trust", "-U", self.user, "--no-sync"
            )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-w",
            "-l",
            str(self.data_dir / "server.log"),
            "-o",
            f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
