"""What pip sees of the distribution: its name, licence, and dependency floors worth testing."""

from __future__ import annotations

import re
import sys
from importlib.metadata import metadata
from pathlib import Path

from packaging.requirements import Requirement

import selector

ROOT = Path(__file__).resolve().parents[1]


def test_the_distribution_is_named_licensed_and_classified() -> None:
    meta = metadata(selector.DISTRIBUTION)
    assert meta["Name"] == "gru-lstm-selector" and meta["License-Expression"] == "Apache-2.0"
    assert any(c.startswith("Programming Language :: Python :: 3") for c in meta.get_all("Classifier"))
    assert (ROOT / "LICENSE").read_text().split()[:3] == ["Apache", "License", "Version"]


def test_every_dependency_has_a_floor_that_ci_installs() -> None:
    """`make test-lowest` installs each floor; a requirement without one would get whatever
    ancient release the resolver finds, and test nothing we declare."""
    requirements = [Requirement(r) for r in metadata(selector.DISTRIBUTION).get_all("Requires-Dist")]
    for requirement in requirements:
        if requirement.name == "gru-lstm-selector":  # the dev extra naming the postgres extra
            continue
        floors = [s for s in requirement.specifier if s.operator in (">=", "==", "~=")]
        assert floors, f"{requirement} has no lower bound"
    assert "make test-lowest" in (ROOT / ".ci" / "run").read_text()
    assert "--resolution lowest-direct" in (ROOT / "Makefile").read_text()


PYTHON_PIN = re.compile(r"(?:python-version:\s*\"?|FROM python:|container: python:)(3\.\d+)")


def test_the_python_floor_is_the_version_that_is_tested() -> None:
    """requires-python names the Python that CI, the images and the workflows run, the
    classifiers name it alone, and this suite runs on it."""
    meta = metadata(selector.DISTRIBUTION)
    floor = meta["Requires-Python"].removeprefix(">=")
    files = [ROOT / "Dockerfile", *ROOT.glob("*/Dockerfile"), *(ROOT / ".github").rglob("*.yml")]
    run = {version for path in files for version in PYTHON_PIN.findall(path.read_text())}
    assert run == {floor}, f"requires-python says >={floor}; these run {sorted(run)}"
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == floor
    listed = {c.rsplit(" :: ", 1)[1] for c in meta.get_all("Classifier")
              if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)}
    assert listed == {floor}
