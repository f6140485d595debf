"""Search spaces: presets parse, user files work, malformed files get precise errors."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from typer.testing import CliRunner

from selector.cli import app
from selector.data import load_dataset, profile_dataset
from selector.errors import SelectorError
from selector.search.space import SpaceError, load_space, parse_space, preset_for, preset_names

GOOD = """
params:
  cell: {type: categorical, choices: [gru, lstm]}
  hidden_size: {type: int, low: 8, high: 64, step: 8}
  num_layers: {type: int, low: 1, high: 2}
  dropout: {type: float, low: 0.0, high: 0.5, when: "num_layers > 1"}
  learning_rate: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
training: {max_epochs: 7, patience: 2}
"""


def test_presets_parse() -> None:
    assert {"default", "edge", "long_sequences", "small_data", "text"} <= set(preset_names())
    for name in preset_names():
        space = load_space(name)
        assert space.distributions()["cell"] == CategoricalDistribution(["gru", "lstm"])


def test_entries_map_one_to_one_onto_optuna_distributions() -> None:
    space = parse_space(GOOD, source="s.yaml", name="s")
    d = space.distributions()
    assert d["hidden_size"] == IntDistribution(8, 64, step=8)
    assert d["learning_rate"] == FloatDistribution(1e-4, 1e-2, log=True)
    assert space.training.max_epochs == 7 and space.training.patience == 2


def test_dropout_only_sampled_when_layers_above_one() -> None:
    space = parse_space(GOOD, source="s.yaml", name="s")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(30):
        trial = study.ask()
        config = space.suggest(trial, text=False)
        assert ("dropout" in trial.params) == (config.num_layers > 1)
        assert "embedding_dim" not in trial.params
        seen.add(config.num_layers)
        study.tell(trial, 0.0)
    assert seen == {1, 2}


def test_user_file_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(GOOD)
    assert load_space(str(path)).name == "mine"


@pytest.mark.parametrize(("text", "expected"), [
    ("params: [1, 2]", "params: expected a mapping"),
    ("params:\n  cell: {type: categorical, choices: [gru, lstm]}\n  hiden_size: {type: int, "
     "low: 1, high: 2}", "params.hiden_size: unknown parameter. Did you mean 'hidden_size'?"),
    ("params:\n  cell: {type: categorical, choices: [gru, lstm]}\n  hidden_size: {type: int, "
     "low: 64, high: 32}", "params.hidden_size: low must not exceed high; got low=64, high=32"),
    ("params:\n  cell: {type: categorical, choices: [gru, lstm]}\n  weight_decay: {type: float,"
     " low: 0, high: 0.1, log: true}", "params.weight_decay.low: must be above 0 when log is true"),
    ("params:\n  cell: {type: categorical, choices: [gru, lstm]}\n  hidden_size: {type: integer,"
     " low: 1, high: 2}", "params.hidden_size.type: must be float, int or categorical; got 'integer'"),
    ("params:\n  cell: {type: categorical, choices: [gru]}",
     "params.cell: the cell must be searched"),
    ("params:\n  cell: {type: categorical, choices: [gru, lstm]}\n  dropout: {type: float, "
     "low: 0, high: 2}", "params.dropout.high: dropout must lie in [0.0, 0.99]; got 2"),
    ("params:\n  cell: {type: categorical, choices: [gru, lstm]}\n  hidden_size: {type: int, "
     "low: 8.5, high: 32}", "params.hidden_size.low: must be an integer for type int; got 8.5"),
    ("params:\n  cell: {type: categorical, choices: [gru, lstm]}\ntraining: {max_epochs: 0}",
     "training.max_epochs: must be a positive integer; got 0"),
    ("params:\n  cell: {type: categorical, choices: [gru, lstm]}\n  dropout: {type: float, "
     "low: 0, high: 0.5, when: 'layers >> 1'}", "params.dropout.when: expected '<parameter> <op>"),
    ("params:\n  cell: {type: categorical, choices: [gru, lstm]\n", "YAML: not valid YAML"),
])
def test_malformed_space_names_key_rule_and_value(text: str, expected: str) -> None:
    with pytest.raises(SpaceError) as caught:
        parse_space(text, source="bad.yaml", name="bad")
    assert str(caught.value).startswith("bad.yaml: ") and expected in str(caught.value)


def test_unknown_preset_suggests_closest() -> None:
    with pytest.raises(SelectorError, match="Did you mean 'edge'"):
        load_space("edg")


def test_cli_bad_space_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("params:\n  cell: {type: categorical, choices: [gru, lstm]}\n  foo: 1\n")
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["recommend", "example:digits", "--space", str(path), "--quiet"])
    assert result.exit_code == 2
    assert "params.foo: unknown parameter" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize(("source", "preset", "why"), [
    ("example:adding?length=400&n=1500", "long_sequences", "median length 400 steps"),
    ("example:digits", "default", "1,259 training sequences of median length 8 steps"),
    ("example:reviews", "text", "text data"),
    ("example:adding?length=30&n=300", "small_data", "210 training sequences (under 500)"),
])
def test_the_profile_picks_the_preset_and_says_why(source: str, preset: str, why: str) -> None:
    name, reason = preset_for(profile_dataset(load_dataset(source)))
    assert name == preset and why in reason
    assert name in preset_names()


@pytest.mark.slow
def test_a_chosen_preset_is_recorded_and_printed_and_space_overrides(
        tmp_path: Path, tiny_space: str) -> None:
    runner = CliRunner()
    shown = runner.invoke(app, ["profile", "example:adding?length=400&n=1500"])
    assert "long_sequences (median length 400 steps" in shown.output
    base = ["recommend", "example:adding?length=30&n=300", "--n-trials", "2", "--seeds", "2",
            "--max-seeds", "2", "--no-tracking", "--storage", f"sqlite:///{tmp_path / 's.db'}",
            "--output-dir", str(tmp_path / "out")]
    chosen = runner.invoke(app, [*base, "--study-name", "chosen", "--json"])
    assert chosen.exit_code == 0, chosen.output
    document = json.loads(chosen.stdout)
    assert document["search"]["space"] == "small_data"
    assert "under 500" in document["search"]["space_reason"]
    given = runner.invoke(app, [*base, "--study-name", "given", "--space", tiny_space, "--json"])
    search = json.loads(given.stdout)["search"]
    assert (search["space"], search["space_reason"]) == ("tiny", None)


def test_the_cheapest_candidate_is_small_one_way_and_learns_at_a_brisk_rate() -> None:
    long = load_space("long_sequences")
    assert long.cheapest(text=False) == {
        "cell": "gru", "hidden_size": 32, "num_layers": 1, "bidirectional": False,
        "learning_rate": pytest.approx(1.28e-3, rel=0.01), "batch_size": 64,
        "weight_decay": 1e-7}  # no dropout (one layer), no embedding (not text)
    assert load_space("text").cheapest(text=True)["embedding_dim"] == 32


def test_a_searched_lookback_is_drawn_among_the_datas_and_the_cheapest_reads_the_least() -> None:
    space = load_space("default")
    drawn = {space.suggest(optuna.trial.FixedTrial({**space.cheapest(text=False),
                                                     "lookback": k}),
                           text=False, lookbacks=(6, 12, 24)).lookback for k in (6, 24)}
    assert drawn == {6, 24}
    assert space.cheapest(text=False, lookbacks=(6, 12, 24))["lookback"] == 6
    assert space.suggest(optuna.trial.FixedTrial(space.cheapest(text=False)),
                         text=False).lookback is None  # not a forecast: every step is read


def test_a_space_may_not_search_the_lookback_itself() -> None:
    text = "params:\n  cell: {type: categorical, choices: [gru, lstm]}\n" \
           "  lookback: {type: int, low: 4, high: 64}\n"
    with pytest.raises(SpaceError, match=r"params\.lookback: unknown parameter"):
        parse_space(text, source="mine.yaml", name="mine")
