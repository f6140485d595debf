"""docker-compose.yml read the way `docker compose` reads it, for running its services natively.

There is no container engine on our machines, so the tests take each service's command and
environment from the compose file itself (with `.env.example` as the `.env`), and run them as
local processes against local servers; `natively` maps the compose network's host names.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}")


def load() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def dotenv(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """KEY=VALUE lines; comments and blank lines skipped."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def variables(text: str) -> set[str]:
    """Every ${NAME...} the compose file interpolates."""
    return {m["name"] for m in _VARIABLE.finditer(text)}


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error}."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if env.get(name):
            return env[name]
        if op == ":-":
            return arg
        raise KeyError(f"{name} is not set" + (f": {arg}" if op == ":?" else ""))

    return _VARIABLE.sub(one, value)


def command(service: str, env: dict[str, str]) -> list[str]:
    """The service's command line after the image's entrypoint."""
    return [interpolate(str(part), env) for part in load()["services"][service]["command"]]


def environment(service: str, env: dict[str, str]) -> dict[str, str]:
    return {key: interpolate(str(value), env)
            for key, value in load()["services"][service]["environment"].items()}


def natively(values: dict[str, str], hosts: dict[str, str]) -> dict[str, str]:
    """Replace the compose network's addresses (``postgres:5432``, ``http://mlflow:5000``,
    ``/data``) with local ones."""
    out = {}
    for key, value in values.items():
        for old, new in hosts.items():
            value = value.replace(old, new)
        out[key] = value
    return out
