"""What pip sees of the distribution: its name, licence, and dependency floors worth testing."""

from __future__ import annotations

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
