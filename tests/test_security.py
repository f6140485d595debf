"""No secret in what selector prints or logs, nothing untrusted unpickled, and a dashboard that
stays on this machine unless told otherwise."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from selector.api import SearchRequest
from selector.cli import app
from selector.dashboard import is_loopback

PACKAGE = Path(__file__).parents[1] / "selector"


def test_the_dashboard_stays_local_unless_exposed_on_purpose(tmp_path: Path) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
    assert not is_loopback("dashboard.internal")
    refused = CliRunner().invoke(app, ["dashboard", "--host", "0.0.0.0", "--tracking-uri",
                                       f"sqlite:///{tmp_path / 'm.db'}"])
    assert refused.exit_code == 2 and "--expose" in refused.stderr
    assert "mlflow/" in refused.stderr  # points to the authenticated server
    assert not (tmp_path / "m.db").exists()
    assert "Allow a --host" in CliRunner().invoke(app, ["dashboard", "--help"]).stdout


def test_mlflow_settings_never_hold_the_storage_password() -> None:
    request = SearchRequest(data="example:digits",
                            storage="postgresql://selector:s3cret@db.internal:5432/studies")
    assert "s3cret" not in repr(request.settings())
    assert request.settings()["storage"] == "postgresql://selector:***@db.internal:5432/studies"


def test_a_password_in_a_failing_url_is_masked_in_the_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the output folder it checks is not the checkout's
    result = CliRunner().invoke(app, [
        "recommend", "example:digits", "--no-tracking",
        "--storage", "postgresql://selector:s3cret@127.0.0.1:1/studies"])
    assert result.exit_code in (2, 75) and "selector:***@127.0.0.1" in result.stderr
    assert "s3cret" not in result.stderr + result.stdout


def test_typer_never_shows_local_variables() -> None:
    assert app.pretty_exceptions_show_locals is False


# What would run code from a file while loading it, and what loads it safely instead.
UNSAFE = {
    r"allow_pickle\s*=\s*True": "NumPy must load with allow_pickle=False",
    r"\bpickle\.loads?\(": "no pickle.load of any file",
    r"\byaml\.(load|unsafe_load|full_load)\(": "YAML through yaml.safe_load only",
    r"\btorch\.load\((?![^)]*weights_only\s*=\s*True)": "torch.load needs weights_only=True",
    r"\bjoblib\.load\(": "no joblib (pickle) files",
}


@pytest.mark.parametrize("pattern", sorted(UNSAFE))
def test_nothing_untrusted_is_unpickled(pattern: str) -> None:
    """Data, spaces and saved preprocessing are read as data (CSV/Parquet/.npz/YAML/JSON)."""
    found = [f"{path.relative_to(PACKAGE.parent)}:{n}"
             for path in PACKAGE.rglob("*.py")
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if re.search(pattern, line)]
    assert not found, f"{UNSAFE[pattern]}: {found}"
    assert "allow_pickle=False" in (PACKAGE / "data" / "readers.py").read_text()
    assert "yaml.safe_load" in (PACKAGE / "search" / "space.py").read_text()
