#!/usr/bin/env python3
"""Start the team's MLflow tracking server with basic auth, configured from the environment.

    python start.py           run the server (the container's entrypoint)
    python start.py health    exit 0 if the server answers on /health (the container's check)

Nothing secret lives in a file: MLflow reads the admin password from MLFLOW_AUTH_ADMIN_PASSWORD
when it first creates its user store, and this script refuses to start without it.

Environment (defaults in brackets):
  MLFLOW_AUTH_ADMIN_PASSWORD    required; the admin's password (first start only; rotate it
                                with MLflow's update-password API afterwards)
  MLFLOW_AUTH_ADMIN_USERNAME    [admin]
  MLFLOW_BACKEND_STORE_URI      runs and metrics [sqlite:///mlflow.db]; a team uses
                                postgresql://user:password@host:5432/mlflow
  MLFLOW_ARTIFACTS_DESTINATION  where the server stores artifacts it proxies [./mlartifacts]
  MLFLOW_AUTH_DATABASE_URI      users and permissions [sqlite:///basic_auth.db]
  MLFLOW_DEFAULT_PERMISSION     what every user may do on others' experiments [READ]
  MLFLOW_HOST, MLFLOW_PORT      [127.0.0.1], [5000]; the container sets 0.0.0.0
  MLFLOW_WORKERS                server processes [1]: one answers fastest on a small machine
  MLFLOW_ALLOWED_HOSTS          Host headers to accept besides localhost and private IPs,
                                e.g. "mlflow,mlflow:5000" for a compose service name
  PGPASSWORD                    the password of a postgresql:// backend store given without
                                one (read by the PostgreSQL driver; keeps it out of `ps`)
  MLFLOW_FLASK_SERVER_SECRET_KEY  signs CSRF tokens; a random one per start if unset (set it
                                when several servers sit behind one address)
"""

from __future__ import annotations

import configparser
import os
import secrets
import sys
import tempfile
import urllib.error
import urllib.request
from importlib.metadata import version
from pathlib import Path


def setting(name: str, default: str) -> str:
    return os.environ.get(name) or default


def write_auth_config() -> Path:
    """MLflow's basic-auth settings file, without the password (that comes from the env)."""
    config = configparser.ConfigParser()
    config["mlflow"] = {
        "default_permission": setting("MLFLOW_DEFAULT_PERMISSION", "READ"),
        "database_uri": setting("MLFLOW_AUTH_DATABASE_URI", "sqlite:///basic_auth.db"),
        "admin_username": setting("MLFLOW_AUTH_ADMIN_USERNAME", "admin"),
        "authorization_function": "mlflow.server.auth:authenticate_request_basic_auth",
    }
    path = Path(tempfile.mkdtemp(prefix="mlflow-auth-")) / "basic_auth.ini"
    with path.open("w") as handle:
        config.write(handle)
    return path


def server_command() -> list[str]:
    command = [
        sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth",
        "--backend-store-uri", setting("MLFLOW_BACKEND_STORE_URI", "sqlite:///mlflow.db"),
        "--artifacts-destination", setting("MLFLOW_ARTIFACTS_DESTINATION", "./mlartifacts"),
        "--host", setting("MLFLOW_HOST", "127.0.0.1"),
        "--port", setting("MLFLOW_PORT", "5000"),
        "--workers", setting("MLFLOW_WORKERS", "1"),
    ]
    if os.environ.get("MLFLOW_ALLOWED_HOSTS"):
        command += ["--allowed-hosts", ",".join(allowed_hosts(os.environ["MLFLOW_ALLOWED_HOSTS"]))]
    return command


def allowed_hosts(extra: str) -> list[str]:
    """MLflow's own defaults (localhost and private IPs, any port) plus ``extra``: MLflow
    replaces its defaults with whatever it is given, which would lock out the host's browser."""
    from mlflow.server.security_utils import get_default_allowed_hosts

    return [h.strip() for h in extra.split(",") if h.strip()] + get_default_allowed_hosts()


def health() -> int:
    url = f"http://127.0.0.1:{setting('MLFLOW_PORT', '5000')}/health"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return 0 if answer.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str]) -> int:
    if argv == ["health"]:
        return health()
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    if not os.environ.get("MLFLOW_AUTH_ADMIN_PASSWORD"):
        print("start.py: set MLFLOW_AUTH_ADMIN_PASSWORD (the admin's password, e.g. from your "
              "secret store or an untracked .env file); the server does not start without it.",
              file=sys.stderr)
        return 2
    found = version("mlflow")
    if tuple(int(part) for part in found.split(".")[:2]) < (3, 17):
        print(f"start.py: the server needs mlflow[auth] 3.17 or newer (the first to read the "
              f"admin password from MLFLOW_AUTH_ADMIN_PASSWORD); this is {found}. Install "
              "requirements.txt beside this script.", file=sys.stderr)
        return 2
    os.environ["MLFLOW_AUTH_CONFIG_PATH"] = str(write_auth_config())
    os.environ.setdefault("MLFLOW_FLASK_SERVER_SECRET_KEY", secrets.token_hex(32))
    command = server_command()
    os.execv(command[0], command)  # the server replaces this process (signals reach it)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
