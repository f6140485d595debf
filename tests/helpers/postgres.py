"""A throwaway PostgreSQL cluster on 127.0.0.1 for the tests (Debian's `postgresql` package).

`initdb` + `pg_ctl` into a temporary folder: about 4 s, nothing installed or left behind. As root
(CI), the server runs as the `postgres` user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from tests.conftest import free_port

USER = "selector"
PASSWORD = "s3cret-pa55"  # tests check that this never shows up in output


def postgres_bin() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, else Debian's newest version."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                      key=lambda p: int(Path(p).parts[-3]))
    return Path(versions[-1]).parent if versions else None


class PostgresCluster:
    """One cluster: ``url(database)`` for clients, ``restart()`` to test reconnection."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="selector-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        password_file = self.root / "password"
        password_file.write_text(PASSWORD)
        if self.as_root:
            shutil.chown(password_file, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", USER, "--auth=scram-sha-256",
                  f"--pwfile={password_file}", "--no-sync", "-E", "UTF8", "--locale=C")
        password_file.unlink()

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        command = [str(self.bin / tool), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        # stdout to a file, never a pipe: the server that pg_ctl starts would hold a pipe open
        with (self.root / "pg_ctl.log").open("a") as log:
            subprocess.run(command, check=check, stdout=log, stderr=subprocess.STDOUT, timeout=120)

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")

    def stop(self, *, check: bool = True) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=check)

    def restart(self) -> None:
        """Stop (closing every client connection) and start again on the same port."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-m",
                  "fast", "-w", "restart")

    def url(self, database: str, *, password: bool = True) -> str:
        secret = f":{PASSWORD}" if password else ""
        return f"postgresql://{USER}{secret}@127.0.0.1:{self.port}/{database}"

    def run_sql(self, sql: str, database: str = "postgres") -> None:
        """Statements one by one, outside a transaction (CREATE DATABASE needs that)."""
        statements = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
        with psycopg.connect(self.url(database), autocommit=True) as connection:
            for statement in filter(str.strip, statements.split(";")):
                connection.execute(statement)  # type: ignore[call-overload]

    def destroy(self) -> None:
        self.stop(check=False)  # it may be stopped already
        shutil.rmtree(self.root, ignore_errors=True)
