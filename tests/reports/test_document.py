"""The report: JSON valid against its published schema, Markdown and self-contained HTML."""

from __future__ import annotations

import json
from dataclasses import replace
from importlib import resources
from pathlib import Path

import jsonschema
import optuna
import pytest

from selector.api import report_study
from selector.choices import Reason, choices
from selector.decision.criteria import CLAIMS
from selector.decision.rules import decide
from selector.errors import SelectorError
from selector.records import (
    Budgets,
    CellResult,
    FinalComparison,
    HandedOverForecast,
    Preferences,
    Refit,
    ScaleFree,
    SearchSummary,
)
from selector.reports.document import SCHEMA_FILE, build_document, report_blocks, to_markdown, write_reports
from selector.search.state import StoredDecision, record_study, study_state
from tests.helpers.records import comparison, profile


def summary() -> SearchSummary:
    cells = tuple(CellResult(cell=c, trials=6, complete=3, pruned=3, rejected=0, failed=0,
                             epochs=40, train_seconds=10.0, best_trial=1, best_score=0.9,
                             best_config=None, best_cost=None) for c in ("gru", "lstm"))
    return SearchSummary(study_name="s", storage="sqlite:///x.db", task="classification",
                         score_name="accuracy", direction="maximize", n_trials=12, cells=cells)


def document(tmp_path: Path, **budgets: float) -> dict:
    final = comparison([0.80, 0.81, 0.79], [0.90, 0.91, 0.905])
    rec = decide(final, profile(), Budgets(**budgets), Preferences())
    (tmp_path / "plots").mkdir(exist_ok=True)
    (tmp_path / "plots" / "p.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    return build_document(rec, final, profile(), summary(),
                          {"folder": str(tmp_path), "plots": ["plots/p.png"]})


def test_document_follows_the_published_schema(tmp_path: Path) -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    doc = document(tmp_path)
    jsonschema.validate(json.loads(json.dumps(doc)), schema)
    assert doc["verdict"] == "lstm" and doc["chosen"]["cell"] == "lstm"
    none = document(tmp_path, max_params=1)  # no cell fits: verdict null, still valid
    jsonschema.validate(json.loads(json.dumps(none)), schema)
    assert none["verdict"] is None and none["chosen"] is None
    assert (doc["reason"], none["reason"]) == ("credible-win", "over-budget")
    assert schema["properties"]["reason"]["enum"] == list(choices(Reason))


def test_markdown_and_html_cite_every_criterion(tmp_path: Path) -> None:
    doc = document(tmp_path)
    markdown_path, html_path, json_path = write_reports(doc, tmp_path)
    markdown = markdown_path.read_text()
    page = html_path.read_text()
    for cid in ("G1", "G2", "G3", "G4", "G5", "L1", "L2", "L3", "E1", "E2", "E3"):
        assert f"| {cid} |" in markdown and f"<td>{cid}</td>" in page
    assert "**Verdict: LSTM (clear)" in markdown and "<strong>Verdict: LSTM (clear)" in page
    assert "![p](plots/p.png)" in markdown
    assert 'src="data:image/png;base64,' in page and 'src="plots/' not in page  # self-contained
    assert json.loads(json_path.read_text())["schema"] == "selector.recommendation/2"


def stored_study(tmp_path: Path, prefer: str) -> str:
    """A study holding a final comparison and the decision settings of its last recommend."""
    storage = f"sqlite:///{tmp_path / 'r.db'}"
    study = optuna.create_study(storage=storage, study_name="r", direction="maximize")
    final = comparison([0.80, 0.81, 0.79], [0.90, 0.91, 0.905])
    record_study(study, final=final.to_dict(), profile=profile(), decision=StoredDecision(
        preferences=Preferences(prefer=prefer), budgets=Budgets()))
    return storage


def test_report_with_only_min_gain_keeps_the_stored_preset(tmp_path: Path) -> None:
    storage = stored_study(tmp_path, "edge")
    result = report_study("r", storage=storage, min_gain=0.5, output_dir=str(tmp_path / "o"))
    assert result.recommendation.prefer == "edge"  # not reset to the default preset
    assert result.recommendation.comparison.min_gain == 0.5
    assert result.recommendation.verdict == "gru"  # a 0.1 gain is below 0.5
    again = report_study("r", storage=storage, output_dir=str(tmp_path / "o"))
    assert again.recommendation.prefer == "edge" and again.recommendation.verdict == "lstm"


def test_a_comparison_stored_by_an_older_selector_is_refused_by_name(tmp_path: Path) -> None:
    storage = stored_study(tmp_path, "balanced")
    study = optuna.load_study(study_name="r", storage=storage)
    old = {k: v for k, v in (study_state(study).final or {}).items() if k != "version"}
    record_study(study, final=old)
    with pytest.raises(SelectorError, match=r"selector.comparison 1, written by an older selector; "
                       r"this one reads selector.comparison 2\. Run 'selector recommend'"):
        report_study("r", storage=storage, output_dir=str(tmp_path / "o"))


def test_the_criteria_the_report_cites_are_documented_in_the_installed_package() -> None:
    document = resources.files("selector").joinpath("docs/criteria.md").read_text()
    for cid in CLAIMS:
        assert f"### {cid}:" in document, f"{cid} is not documented"
    final = comparison([0.8, 0.81], [0.9, 0.91])
    document = build_document(decide(final, profile(), Budgets(), Preferences()), final,
                              profile(), summary(), {"plots": []})
    page = to_markdown(report_blocks(document))
    assert "selector/docs/criteria.md" in page and "../shared" not in page


def test_a_forecast_report_shows_mase_and_smape_beside_the_baselines(tmp_path: Path) -> None:
    base = comparison([0.30, 0.31, 0.29], [0.32, 0.33, 0.31], direction="minimize")
    free = [ScaleFree(mase=0.8 + k / 100, smape=5.0) for k in range(3)]
    final = replace(
        base, season=12, baselines_scale_free={"seasonal naive (season 12)": ScaleFree(1.1, 7.5)},
        refit=Refit(cell="gru", seed=0, epochs=5, train_seconds=1.0, test_score=0.3,
                    scale_free=ScaleFree(mase=None, smape=4.0), whole_history_seconds=1.5),
        cells=tuple(replace(c, runs=tuple(replace(r, scale_free=f) for r, f in zip(
            c.runs, free, strict=True))) for c in base.cells))
    assert FinalComparison.from_dict(json.loads(json.dumps(final.to_dict()))) == final
    rec = decide(final, profile(), Budgets(), Preferences())
    doc = build_document(rec, final, profile(), summary(), {"folder": str(tmp_path), "plots": []})
    jsonschema.validate(json.loads(json.dumps(doc)), json.loads(SCHEMA_FILE.read_text()))
    markdown = to_markdown(report_blocks(doc))
    assert "seasonal naive forecast's (season 12)" in markdown
    assert "| GRU (mean of 3 runs) | 0.810 | 5.00 |" in markdown
    assert "| handed-over model (GRU refit) | - | 4.00 |" in markdown  # constant series only
    assert "| seasonal naive (season 12) | 1.100 | 7.50 |" in markdown
    # the model handed over was trained again on every step: its forecasts start at the end
    assert "Then trained the same way on every step, test part included (1.5 s)" in markdown
    # classification (and a comparison stored before these fields) shows no such table
    older = {k: v for k, v in base.to_dict().items() if k not in ("season", "baselines_scale_free")}
    assert FinalComparison.from_dict(older) == base
    assert "Scale-free" not in to_markdown(report_blocks(document(tmp_path)))


def test_the_report_says_why_the_stored_forecast_was_handed_over_whatever_is_re_decided(
        tmp_path: Path) -> None:
    """`selector report` re-decides, and a new preset or budget may change the verdict; the
    forecast handed over instead of GRU is still the one that beat GRU on test, and the
    report says so (not that neither cell learned), in a document the schema accepts."""
    said = "Handed over instead: the drift forecast, which beat GRU's 3 final runs."
    final = replace(comparison([0.30, 0.31, 0.29], [0.32, 0.33, 0.31], direction="minimize"),
                    fallback=HandedOverForecast("drift", said, "gru"))
    assert FinalComparison.from_dict(json.loads(json.dumps(final.to_dict()))) == final
    rec = decide(final, profile(), Budgets(max_params=1), Preferences())  # no cell fits now
    doc = build_document(rec, final, profile(), summary(), {"folder": str(tmp_path),
                                                            "plots": [], "fallback": "drift"})
    jsonschema.validate(json.loads(json.dumps(doc)), json.loads(SCHEMA_FILE.read_text()))
    assert doc["verdict"] is None
    markdown = " ".join(to_markdown(report_blocks(doc)).split())
    assert ("Handed-over model: the drift forecast, made from each series' own past as the "
            "baseline scored here is: it beat GRU's final runs on the test split.") in markdown
