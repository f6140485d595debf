"""`selector dashboard`: the MLflow UI over the store that `selector recommend` logs to.

One server worker by default: the stock four start ~15 processes and answer each call in
~50 ms on a small machine, against ~7 ms for one.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from types import TracebackType

from mlflow import MlflowClient

from selector.errors import SelectorError
from selector.tracking import local_artifact_root
from selector.urls import mask_url

STARTUP_TIMEOUT_S = 90.0


def is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def server_command(uri: str, *, host: str, port: int, workers: int) -> list[str]:
    """The `mlflow server` command line for a local store (database or file store)."""
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri,
               "--host", host, "--port", str(port), "--workers", str(workers)]
    root = local_artifact_root(uri)
    if root is not None:  # where `selector recommend` puts the artifacts of a SQLite store
        command += ["--default-artifact-root", str(root)]
    return command


def experiment_path(experiment_id: str) -> str:
    """The UI path of an experiment's runs table (MLflow 3 opens its GenAI view otherwise)."""
    return f"#/experiments/{experiment_id}/runs?workflowType=machine_learning"


def selector_experiments(uri: str) -> list[tuple[str, str]]:
    """(name, id) of the experiments selector created in the store, newest first."""
    client = MlflowClient(tracking_uri=uri)
    found = client.search_experiments(filter_string="tags.`selector.kind` = 'study'",
                                      order_by=["creation_time DESC"], max_results=20)
    return [(e.name, e.experiment_id) for e in found]


class ServerProcess:
    """A server command run until the context exits; entering waits for ``url``/health."""

    def __init__(self, command: list[str], *, host: str, port: int, name: str,
                 env: dict[str, str] | None = None) -> None:
        self.command = command
        self.host = host
        self.port = port
        self.name = name  # for messages: what the server serves (password masked)
        self.env = env
        self.url = f"http://{host}:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115  (the server's output; closed in stop)

    def __enter__(self) -> ServerProcess:
        _check_port_free(self.host, self.port)
        self.process = subprocess.Popen(self.command, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True, env=self.env)
        self._wait_healthy()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def wait(self) -> int:
        """Block until the server exits (or the user presses Ctrl-C)."""
        assert self.process is not None
        return self.process.wait()

    def stop(self) -> None:
        """Stop the server and the workers it started (its whole process group)."""
        if self.process is None or self.process.poll() is not None:
            self._log.close()
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._log.close()

    def _wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self._tail()
                self.stop()
                raise SelectorError(f"the server for {mask_url(self.name)} exited with "
                                    f"code {self.process.returncode}:\n{tail}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        tail = self._tail()
        self.stop()
        raise SelectorError(f"the server for {mask_url(self.name)} did not answer on {self.url} within "
                            f"{STARTUP_TIMEOUT_S:.0f} s:\n{tail}")

    def _tail(self, lines: int = 15) -> str:
        self._log.seek(0)
        text = self._log.read().decode(errors="replace")
        return mask_url("\n".join(text.splitlines()[-lines:]))


def dashboard(uri: str, *, host: str = "127.0.0.1", port: int = 5000,
              workers: int = 1) -> ServerProcess:
    """The MLflow UI over the store at ``uri``, as a context manager."""
    return ServerProcess(server_command(uri, host=host, port=port, workers=workers), host=host,
                         port=port, name=uri)


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise SelectorError(f"port {port} on {host} is already in use; pass another "
                                    "--port.") from None
            raise SelectorError(f"cannot listen on {host}:{port}: {exc.strerror}.") from None
