"""The report: one JSON document, rendered as Markdown and as a self-contained HTML page.

Everything is rendered from the JSON document (schema ``selector.recommendation/2``,
described in ``selector/schemas/recommendation-2.schema.json``), so `selector recommend
--json`, report.md, report.html and `selector report` always tell the same story.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from selector.files import write_file
from selector.records import DataProfile, FinalComparison, Recommendation, SearchSummary
from selector.training.baselines import LEARNED_SKILL, NOISE_Z
from selector.versions import RECOMMENDATION

SCHEMA_FILE = Path(__file__).parents[1] / "schemas" / "recommendation-2.schema.json"
COST_ROWS = (  # key, label, format
    ("train_seconds_per_epoch", "training time per epoch (s)", "{:.3f}"),
    ("best_epoch", "epochs to best validation score", "{:.1f}"),
    ("time_to_best_s", "time to converge (s)", "{:.2f}"),
    ("train_seconds", "training run, patience included (s)", "{:.2f}"),
    ("latency_ms_p50", "latency p50, batch 1 (ms)", "{:.3f}"),
    ("latency_ms_p95", "latency p95, batch 1 (ms)", "{:.3f}"),
    ("batch_latency_ms_p50", "latency p50, throughput batch (ms)", "{:.3f}"),
    ("throughput_per_s", "throughput (sequences/s)", "{:,.0f}"),
    ("parameters", "parameters", "{:,.0f}"),
    ("size_bytes", "size (bytes)", "{:,.0f}"),
    ("peak_memory_bytes", "training memory (bytes)", "{:,.0f}"),
)
Block = tuple[Any, ...]


def build_document(rec: Recommendation, final: FinalComparison, profile: DataProfile,
                   summary: SearchSummary, artifacts: dict[str, Any],
                   gates: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON document: verdict, evidence, per-cell scores and costs, and artifact paths."""
    document = {"schema": RECOMMENDATION.marker, "study": summary.study_name, "storage": summary.storage,
                **decision_document(rec),
                "final": final.to_dict(), "profile": profile.to_dict(),
                "search": summary.to_dict(), "artifacts": artifacts}
    if gates is not None:
        document["gates"] = gates
    return document


def decision_document(rec: Recommendation) -> dict[str, Any]:
    """The decision part of the document: what `selector.decision.gates` compares between runs."""
    chosen = None
    if rec.verdict is not None:
        evidence = rec.cell(rec.verdict)
        assert evidence is not None
        chosen = {"cell": rec.verdict, "trial": evidence.trial, "config": evidence.config}
    return {
        "verdict": rec.verdict, "confidence": rec.confidence, "reason": rec.reason,
        "headline": rec.headline,
        "rationale": list(rec.rationale), "chosen": chosen, "score_name": rec.score_name,
        "direction": rec.direction,
        "preferences": {"prefer": rec.prefer, "min_gain": rec.comparison.min_gain,
                        "min_gain_source": rec.comparison.min_gain_source,
                        "confidence_level": rec.comparison.level,
                        "budgets": asdict(rec.budgets)},
        "comparison": asdict(rec.comparison),
        "cells": [asdict(c) for c in rec.cells],
        "criteria": [asdict(c) for c in rec.criteria],
    }


def report_paths(folder: Path) -> dict[str, str]:
    """Where `write_reports` writes, known beforehand so the report can list itself."""
    return {"report_md": str(folder / "report.md"), "report_html": str(folder / "report.html"),
            "json": str(folder / "recommendation.json")}


def write_reports(document: dict[str, Any], folder: Path) -> list[Path]:
    """report.md, report.html (plots embedded) and recommendation.json in ``folder``."""
    paths = {k: Path(v) for k, v in report_paths(folder).items()}
    blocks = report_blocks(document)
    write_file(paths["report_md"], to_markdown(blocks))
    write_file(paths["report_html"], to_html(blocks, folder, document["study"]))
    write_file(paths["json"], json.dumps(document, indent=2, default=str))
    return list(paths.values())


def _fmt(value: float | None, spec: str = "{:.4g}") -> str:
    return "-" if value is None else spec.format(value)


def report_blocks(doc: dict[str, Any]) -> list[Block]:
    """The report as a list of blocks: (kind, ...) with kind h1, h2, p, list, table or image."""
    cells = {c["cell"]: c for c in doc["cells"]}
    score, comp = doc["score_name"], doc["comparison"]
    better = "higher" if doc["direction"] == "maximize" else "lower"
    blocks: list[Block] = [
        ("h1", f"GRU or LSTM: study '{doc['study']}'"),
        ("p", f"**Verdict: {doc['headline']}**"),
        ("list", doc["rationale"]),
        ("h2", "Test scores of the final runs"),
        ("p", f"Each cell's best search configuration, retrained with seeds "
              f"{', '.join(map(str, doc['final'].get('seeds_run', doc['final']['seeds'])))} on "
              "the same splits and tested on "
              f"the held-out test split ({score}, {better} is better)."),
        ("table", ["cell", "search trial", f"test {score} (mean ± sd)", "per seed",
                   "learned (beat the baseline)"],
         [[c.upper(), f"#{e['trial']}", f"{e['test_mean']:.4f} ± {e['test_std']:.4f}",
           ", ".join(f"{s:.4f}" for s in e["test_scores"]), _learned(doc, c)]
          for c, e in cells.items()]),
    ]
    if doc["final"].get("baselines"):
        blocks.append(("p", "Trivial baselines on the same test sequences (fitted on the "
                            "training split): " + ", ".join(
                                f"{name} {value:.4f}" for name, value in
                                doc["final"]["baselines"].items())
                       + f". A run learned when it removed at least {LEARNED_SKILL:.0%} of the "
                         "strongest baseline's error on validation (in classification also "
                         f"by {NOISE_Z:g} standard errors of an accuracy at the baseline's "
                         "there: a plateau's wobble). A run that did not counts at what it "
                         "scored if it trained to its end, and not at all if the budget cut "
                         "it short."))
    if doc["final"].get("budget_notes"):
        blocks += [("h2", "What the budget cut"), ("list", list(doc["final"]["budget_notes"]))]
    if comp["gain_mean"] is not None:
        interval = ("too few seeds for an interval" if comp["ci_low"] is None else
                    f"{comp['level']:.0%} CI [{comp['ci_low']:+.4g}, {comp['ci_high']:+.4g}], "
                    f"p = {_fmt(comp['p_value'], '{:.3g}')}")
        gain = "LSTM - GRU" if doc["direction"] == "maximize" else "GRU's - LSTM's"
        blocks.append(("p", f"Gain of LSTM over GRU ({gain} {score}; positive: LSTM better): "
                            f"{comp['gain_mean']:+.4g}, {interval}, paired over {comp['pairs']} "
                            f"seeds and {comp.get('examples', 0):,} test sequences (standard "
                            f"error from seeds {_fmt(comp.get('seed_sd'))}, from the test sample "
                            f"{_fmt(comp.get('example_sd'))}). Minimum worthwhile gain: "
                            f"{comp['min_gain']:.4g} ({comp['min_gain_source']})."))
    refit, fallback = doc["final"].get("refit"), doc["final"].get("fallback")
    if fallback:
        beat = fallback.get("beat")
        why = ("neither cell beat it on validation" if beat is None else
               f"it beat {beat.upper()}'s final runs on the test split")
        blocks.append(("p", f"Handed-over model: the {fallback['name']} forecast, made from "
                            f"each series' own past as the baseline scored here is: {why}."))
    elif refit:
        blocks.append(("p", f"Handed-over model: {refit['cell'].upper()} refit on train + "
                            f"validation for {refit['epochs']} epochs (the median best epoch of "
                            f"its final runs that the budget did not cut), seed {refit['seed']}, "
                            f"{refit['train_seconds']:.1f} s; test {score} "
                            f"{refit['test_score']:.4f}, scored once."
                            + _whole_history(refit)))
    elif doc["verdict"] is not None:
        blocks.append(("p", f"Handed-over model: {doc['verdict'].upper()}'s final run with the "
                            "best validation score, trained on the training split (no refit: "
                            "--no-refit, or the reason under What the budget cut)."))
    blocks += _scale_free_blocks(doc["final"], score)
    rows = []
    for key, label, spec in COST_ROWS:
        values = [cells[c]["cost"].get(key) for c in cells]
        ratio = comp["cost_ratios"].get(key)
        rows.append([label, *(_fmt(v, spec) for v in values), _fmt(ratio, "{:.2f}")])
    final = doc["final"]
    blocks += [("h2", f"Cost, measured on {final['device']} (mean over seeds)"),
               ("p", f"Times leave out one-time set-up (the GRU kernel's build or load, "
                     f"shape timings): {_search_setup(doc):.1f} s in the search and "
                     f"{final.get('setup_seconds', 0.0):.1f} s in the final runs, counted here "
                     "only."),
               ("table", ["measure", *(c.upper() for c in cells), "LSTM / GRU"], rows)]
    if final.get("latency"):
        blocks.append(("table", ["batch-1 latency of the handed-over candidates", "GRU p50 (ms)",
                                 "LSTM p50 (ms)", "GRU p95", "LSTM p95", "LSTM / GRU [interval]"],
                       [[f"{t['runtime']} ({t['timings']} interleaved timings each)",
                         f"{t['p50_ms']['gru']:.3f}", f"{t['p50_ms']['lstm']:.3f}",
                         _fmt(t["p95_ms"]["gru"], "{:.3f}"), _fmt(t["p95_ms"]["lstm"], "{:.3f}"),
                         _ratio(t["ratio"])] for t in final["latency"]]))
    if final["equal_config"]:
        blocks.append(_equal_config_table(final["equal_config"]))
    blocks += [
        ("h2", "Decision criteria (selector/docs/criteria.md)"),
        ("table", ["ID", "criterion", "applies here", "borne out", "evidence"],
         [[c["id"], c["title"], "yes" if c["applies"] else "no", c["borne_out"], c["evidence"]]
          for c in doc["criteria"]]),
    ]
    if doc["chosen"]:
        blocks += [("h2", f"Recommended model: {doc['chosen']['cell'].upper()} (search trial "
                          f"#{doc['chosen']['trial']})"),
                   ("table", ["hyperparameter", "value"],
                    [[k, str(v)] for k, v in doc["chosen"]["config"].items()])]
    search = doc["search"]
    blocks += [("h2", f"Search: {search['n_trials']} trials"),
               ("table", ["cell", "trials", "complete / pruned / rejected / failed",
                          f"best validation {score}", "training time (s)"],
                [[c["cell"].upper(), str(c["trials"]),
                  f"{c['complete']} / {c['pruned']} / {c['rejected']} / {c['failed']}",
                  _fmt(c["best_score"]), f"{c['train_seconds']:.1f}"] for c in search["cells"]])]
    profile = doc["profile"]
    blocks += [("h2", "Data"),
               ("p", f"{profile['source']}: {profile['task']}, {profile['n_sequences']:,} "
                     f"sequences (train {profile['n_train']:,} / val {profile['n_val']:,} / test "
                     f"{profile['n_test']:,}, {profile['split_rule']} split), length median "
                     f"{profile['length_median']:g} (min {profile['length_min']}, max "
                     f"{profile['length_max']}), {profile['n_features']} feature(s).")]
    artifacts = doc["artifacts"]
    listed = [f"{k}: {v}" for k, v in artifacts.items() if isinstance(v, str)]
    if artifacts.get("mlflow"):
        listed += [f"mlflow {k}: {v}" for k, v in artifacts["mlflow"].items() if v is not None]
    blocks += [("h2", "Artifacts"), ("list", listed), ("h2", "Plots")]
    blocks += [("image", p) for p in artifacts.get("plots", [])]
    return blocks


def _whole_history(refit: dict[str, Any]) -> str:
    """Forecasts: the refit trained again on every step, the model handed over."""
    seconds = refit.get("whole_history_seconds")
    if seconds is None:
        return ""
    return (f" Then trained the same way on every step, test part included ({seconds:.1f} s): "
            "that model is handed over, so its forecasts start from the latest steps; the test "
            "score is the refit's on train + validation.")


def _scale_free_blocks(final: dict[str, Any], score: str) -> list[Block]:
    """Forecasts: MASE and sMAPE of each cell's final runs, the handed-over model and the
    baselines, on the same test windows."""
    rows = []
    for cell in final["cells"]:
        found = [r["scale_free"] for r in cell["runs"] if r.get("scale_free")]
        if found:
            mase = [f["mase"] for f in found if f["mase"] is not None]
            rows.append([f"{cell['cell'].upper()} (mean of {len(found)} runs)",
                         _fmt(sum(mase) / len(mase) if mase else None, "{:.3f}"),
                         f"{sum(f['smape'] for f in found) / len(found):.2f}"])
    named = list(final.get("baselines_scale_free", {}).items())
    if final.get("refit"):
        refit = final["refit"]
        named.insert(0, (f"handed-over model ({refit['cell'].upper()} refit)",
                         refit.get("scale_free")))
    rows += [[name, _fmt(f["mase"], "{:.3f}"), f"{f['smape']:.2f}"] for name, f in named if f]
    if not rows:
        return []
    return [("h2", "Scale-free forecast accuracy (test windows)"),
            ("p", f"MASE: the mean absolute error on each series divided by the seasonal naive "
                  f"forecast's (season {final.get('season', 1)}) on that series' training part; "
                  "below 1 beats it. sMAPE in percent. Each per series, then averaged over "
                  "series; lower is better. The verdict compares "
                  + ("MASE: a panel's series weigh the same whatever their scale."
                     if score == "mase" else f"{score}.")),
            ("table", ["model", "test MASE", "test sMAPE (%)"], rows)]


def _learned(doc: dict[str, Any], cell: str) -> str:
    comp = doc["comparison"]
    runs, learned = comp.get("runs", {}).get(cell), comp.get("learned", {}).get(cell)
    if runs is None or learned is None:
        return "-"
    return f"{learned} of {runs}" + (" (did not learn)" if learned == 0 else "")


def _search_setup(doc: dict[str, Any]) -> float:
    return sum(c.get("setup_seconds", 0.0) for c in doc["search"]["cells"])


def _equal_config_table(timed: list[dict[str, Any]]) -> Block:
    """Both cells at equal configurations: training step, eager batch-1 latency and, where
    timed (CPU), batch-1 latency in ONNX Runtime, which serves the handed-over model."""
    return ("table", ["equal configuration", "GRU train step (ms)", "LSTM train step (ms)",
                      "LSTM / GRU step", "GRU eager latency (ms)", "LSTM eager latency (ms)",
                      "LSTM / GRU eager", "LSTM / GRU served (ONNX Runtime)"],
            [[_shape(t["config"]), f"{t['train_step_ms']['gru']:.2f}",
              f"{t['train_step_ms']['lstm']:.2f}", _ratio(t["train_step_ratio"]),
              f"{t['latency_ms']['gru']:.3f}", f"{t['latency_ms']['lstm']:.3f}",
              _ratio(t["latency_ratio"]),
              _ratio(t["served_latency_ratio"]) if t.get("served_latency_ratio") else "not timed"]
             for t in timed])


def _ratio(ratio: dict[str, float]) -> str:
    sure = "" if ratio["low"] <= 1.0 <= ratio["high"] else " (credible)"
    return f"{ratio['value']:.2f} [{ratio['low']:.2f}, {ratio['high']:.2f}]{sure}"


def _shape(config: dict[str, Any]) -> str:
    return (f"hidden {config['hidden_size']} x {config['num_layers']}"
            f"{' bi' if config.get('bidirectional') else ''}, batch {config['batch_size']}"
            f"{', lookback ' + str(config['lookback']) if config.get('lookback') else ''}")


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for kind, *rest in blocks:
        if kind == "h1":
            out.append(f"# {rest[0]}\n")
        elif kind == "h2":
            out.append(f"## {rest[0]}\n")
        elif kind == "p":
            out.append(f"{rest[0]}\n")
        elif kind == "list":
            out.append("\n".join(f"- {item}" for item in rest[0]) + "\n")
        elif kind == "table":
            header, rows = rest
            lines = ["| " + " | ".join(map(_md_cell, header)) + " |",
                     "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in rows]
            out.append("\n".join(lines) + "\n")
        elif kind == "image":
            out.append(f"![{Path(rest[0]).stem}]({rest[0]})\n")
    return "\n".join(out)


STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f3f3f3}img{max-width:100%;margin:1em 0}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em}"""


def _inline(text: str) -> str:
    escaped = html.escape(str(text))
    parts = escaped.split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))


def to_html(blocks: list[Block], folder: Path, title: str) -> str:
    """A single HTML file: plots are embedded as data URIs, so it can be mailed or archived."""
    body: list[str] = []
    for kind, *rest in blocks:
        if kind in ("h1", "h2"):
            body.append(f"<{kind}>{_inline(rest[0])}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{_inline(rest[0])}</p>")
        elif kind == "list":
            body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in rest[0]) + "</ul>")
        elif kind == "table":
            header, rows = rest
            body.append("<table><tr>" + "".join(f"<th>{_inline(h)}</th>" for h in header) + "</tr>"
                        + "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row)
                                  + "</tr>" for row in rows) + "</table>")
        elif kind == "image":
            path = folder / rest[0]
            if path.exists():
                data = base64.b64encode(path.read_bytes()).decode()
                body.append(f'<img alt="{html.escape(path.stem)}" '
                            f'src="data:image/png;base64,{data}">')
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>selector: "
            f"{html.escape(title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def summary_markdown(document: dict[str, Any]) -> str:
    """A short Markdown summary for a CI job page: the verdict, the gates, what changed."""
    lines = [f"## selector: {document['headline']}", "",
             f"Study `{document['study']}` · confidence **{document['confidence']}** · "
             f"report `{document['artifacts']['report_html']}`", ""]
    chosen = next((c for c in document["cells"] if c["cell"] == document["verdict"]), None)
    if chosen is not None:
        shape = ", ".join(f"{k} {chosen['config'][k]}" for k in
                          ("hidden_size", "num_layers", "bidirectional") if k in chosen["config"])
        lines += [f"- {document['verdict'].upper()} ({shape}): test {document['score_name']} "
                  f"{chosen['test_mean']:.4g} ± {chosen['test_std']:.2g} over "
                  f"{len(chosen['test_scores'])} seeds", ""]
    gates = document.get("gates")
    if gates is None:
        return "\n".join(lines) + "\n"
    outcome = {"passed": "passed, decision unchanged", "changed": "passed, **decision changed**",
               "failed": "**failed**"}[gates["status"]]
    lines += [f"### Gates: {outcome}", "",
              "| check | result | detail |", "|---|---|---|"]
    lines += [f"| {c['name']} | {'pass' if c['passed'] else 'FAIL'} | {c['detail']} |"
              for c in gates["checks"]]
    lines.append("")
    comparison = gates["comparison"]
    if comparison is None:
        lines.append(f"No previous decision to compare with ({gates['baseline'] or 'none yet'}).")
    else:
        changes = comparison["changes"]
        cell, score = changes["cell"], changes["score"]
        lines += [f"Compared with {gates['baseline']}:", "",
                  f"- cell: {cell['before']} → {cell['after']}"
                  + (" (credible)" if cell["significant"] else ""),
                  "- hyperparameters: " + (", ".join(
                      f"{k} {old} → {new}" for k, (old, new) in changes["config"]["diff"].items())
                      or "unchanged")]
        if score["delta"] is not None:
            p_value = "n/a" if score["p_value"] is None else f"{score['p_value']:.3g}"
            lines.append(f"- test {score['name']}: {score['before']:.4g} → {score['after']:.4g} "
                         f"(p = {p_value}{', significant' if score['significant'] else ''})")
        elif score.get("baseline_name"):
            lines.append(f"- test score: not compared (the baseline was scored by "
                         f"{score['baseline_name']}, this run by {score['name']})")
        for key, value in changes["cost"].items():
            if value["ratio"] is not None:
                lines.append(f"- {key}: x{value['ratio']:.2f} of before")
    lines += ["", f"Promoted to champion: {'yes' if gates['promoted'] else 'no'}."]
    return "\n".join(lines) + "\n"
