"""One versioning scheme: every stored format is read through `Format.read`, which takes its
own version and older ones it migrates, and refuses a newer, older or unknown one by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selector.api import RecommendRequest, SearchRequest
from selector.api.baseline import read_baseline
from selector.errors import ParameterError
from selector.serving.export import MODEL_FILE
from selector.serving.predict import open_model
from selector.versions import COMPARISON, MODEL, RECOMMENDATION, STUDY, FormatError


def test_each_format_reads_its_versions_and_refuses_the_rest() -> None:
    assert RECOMMENDATION.read("selector.recommendation/1", "r.json") == 1  # a --baseline
    assert RECOMMENDATION.marker == "selector.recommendation/2" and MODEL.marker.endswith("/1")
    assert STUDY.read(0, "study 's'") == 0 and STUDY.marker == 1  # studies store a number
    assert COMPARISON.read(2, "the comparison") == 2
    with pytest.raises(FormatError, match=r"is selector\.comparison 1, written by an older "
                                          r"selector; this one reads selector\.comparison 2\. Redo"):
        COMPARISON.read(1, "the comparison", hint="Redo")
    with pytest.raises(FormatError, match=r"not selector\.training\.model"):
        MODEL.read("selector.recommendation/2", "m.json")  # another format
    with pytest.raises(FormatError, match=r"not selector\.study"):
        STUDY.read(True, "study 's'")


def test_a_model_folder_from_a_newer_selector_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / MODEL_FILE).write_text(json.dumps({"schema": "selector.training.model/9"}))
    with pytest.raises(FormatError, match=r"is selector\.training\.model 9, written by a newer "
                                          r"selector; this one reads selector\.training\.model 1"):
        open_model(str(tmp_path))


def test_a_baseline_from_a_newer_selector_is_a_parameter_error(tmp_path: Path) -> None:
    report = tmp_path / "old.json"
    report.write_text(json.dumps({"schema": "selector.recommendation/3"}))
    request = RecommendRequest(SearchRequest(data="x.csv", tracking_uri=None),
                               baseline=str(report))
    with pytest.raises(ParameterError, match=r"baseline must be a recommendation\.json .*"
                                             r"selector\.recommendation 3, written by a newer"):
        read_baseline(request)
