"""Search spaces: YAML files whose entries map one-to-one onto Optuna distributions.

A space names a preset (``default``, ``edge``, ``long_sequences``, ``small_data``, ``text``,
shipped in ``search_spaces/``) or a path to a user's own YAML file; without one, `preset_for`
picks a preset from the data's profile. Malformed files get a `SpaceError` naming the key, the
rule and the value given.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from selector.errors import SelectorError, did_you_mean
from selector.records import CELLS, DataProfile, ModelConfig, TrainingSettings

PRESET_DIR = Path(__file__).resolve().parents[1] / "search_spaces"
_CONDITION = re.compile(r"^\s*(\w+)\s*(>=|<=|==|!=|>|<)\s*(-?[\w.]+)\s*$")
_OPERATORS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
              "==": operator.eq, "!=": operator.ne}

# What each hyperparameter may take: (python type, lowest allowed, highest allowed).
_RULES: dict[str, tuple[type, float, float]] = {
    "hidden_size": (int, 1, math.inf), "num_layers": (int, 1, 16),
    "dropout": (float, 0.0, 0.99), "learning_rate": (float, 1e-8, 10.0),
    "batch_size": (int, 1, 1 << 16), "weight_decay": (float, 0.0, 1.0),
    "embedding_dim": (int, 1, 4096),
}


class SpaceError(SelectorError):
    """A search space file that does not follow the rules."""

    def __init__(self, source: str, key: str, message: str) -> None:
        super().__init__(f"{source}: {key}: {message}")


@dataclass(frozen=True)
class Parameter:
    name: str
    distribution: BaseDistribution
    condition: tuple[str, str, float] | None = None  # (parameter, operator, value)

    def active(self, chosen: dict[str, Any]) -> bool:
        if self.condition is None:
            return True
        other, op, value = self.condition
        return other in chosen and _OPERATORS[op](chosen[other], value)


@dataclass(frozen=True)
class SearchSpace:
    name: str
    source: str
    text: str  # the YAML as written, for the record
    description: str
    parameters: tuple[Parameter, ...]
    training: TrainingSettings
    reason: str | None = None  # why the data's profile chose this preset; None: it was given

    def suggest(self, trial: optuna.trial.BaseTrial, *, text: bool,
                lookbacks: tuple[int, ...] = ()) -> ModelConfig:
        """Sample one configuration; inactive parameters keep their defaults.

        ``embedding_dim`` is only searched for text data, where there is an embedding; the
        ``lookback`` of a forecast among the data's ``lookbacks`` (`selector.data.lookbacks`)
        where it is searched.
        """
        chosen: dict[str, Any] = {}
        for p in self.parameters:
            if p.active(chosen) and (text or p.name != "embedding_dim"):
                chosen[p.name] = _suggest(trial, p.name, p.distribution)
        if isinstance(chosen.get("bidirectional"), str):  # YAML "true"/"false" strings
            chosen["bidirectional"] = chosen["bidirectional"] == "true"
        if lookbacks:
            chosen["lookback"] = trial.suggest_categorical("lookback", lookbacks)
        return ModelConfig(**chosen)

    def distributions(self) -> dict[str, BaseDistribution]:
        return {p.name: p.distribution for p in self.parameters}

    def cheapest(self, *, text: bool, lookbacks: tuple[int, ...] = ()) -> dict[str, Any]:
        """The GRU candidate that costs least to train and still learns fast: the narrowest,
        shallowest, one-way network reading the shortest lookback, the largest batch, the
        least regularisation, and a learning rate three quarters up its range (on its
        scale); as `suggest` draws them."""
        chosen: dict[str, Any] = {}
        for p in self.parameters:
            if p.active(chosen) and (text or p.name != "embedding_dim"):
                chosen[p.name] = _cheapest(p.name, p.distribution)
        return {**chosen, **({"lookback": min(lookbacks)} if lookbacks else {})}


def _suggest(trial: optuna.trial.BaseTrial, name: str, d: BaseDistribution) -> Any:
    if isinstance(d, CategoricalDistribution):
        return trial.suggest_categorical(name, d.choices)
    if isinstance(d, IntDistribution):
        return trial.suggest_int(name, d.low, d.high, step=d.step, log=d.log)
    assert isinstance(d, FloatDistribution)
    return trial.suggest_float(name, d.low, d.high, step=d.step, log=d.log)


def _cheapest(name: str, d: BaseDistribution) -> Any:
    if isinstance(d, CategoricalDistribution):
        choices = list(d.choices)
        preferred = {"cell": "gru", "bidirectional": False}.get(name)
        if name == "batch_size":
            return max(choices, key=lambda c: float(c or 0))
        matching = [c for c in choices if str(c).lower() == str(preferred).lower()]
        return matching[0] if matching else choices[0]
    assert isinstance(d, IntDistribution | FloatDistribution)
    if name != "learning_rate":
        return d.low
    if d.log:
        return math.exp(0.25 * math.log(d.low) + 0.75 * math.log(d.high))
    return d.low + 0.75 * (d.high - d.low)


SMALL_DATA = 500  # training sequences below which the networks are kept narrow
LONG_STEPS = 200  # median length from which the long-sequence preset's stable training pays


def preset_for(profile: DataProfile) -> tuple[str, str]:
    """The preset that fits the data, and why, in the order: text, few sequences, long ones,
    else ``default``. A given ``--space`` always wins over this."""
    if profile.vocabulary_size:
        return "text", (f"text data ({profile.vocabulary_size:,} tokens in the vocabulary): "
                        "wide embedding ranges")
    if profile.n_train < SMALL_DATA:
        return "small_data", (f"{profile.n_train:,} training sequences (under {SMALL_DATA}): "
                              "narrow, regularised networks")
    if profile.length_median >= LONG_STEPS:
        return "long_sequences", (f"median length {profile.length_median:g} steps (from "
                                  f"{LONG_STEPS}): stable training through long inputs")
    return "default", (f"{profile.n_train:,} training sequences of median length "
                       f"{profile.length_median:g} steps: the everyday ranges")


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_space(name_or_path: str | Path) -> SearchSpace:
    """A preset by name, or a YAML file by path."""
    text_name = str(name_or_path)
    preset = PRESET_DIR / f"{text_name}.yaml"
    if preset.is_file():
        path = preset
    else:
        path = Path(text_name).expanduser()
        if not path.is_file():
            raise SelectorError(
                f"search space '{text_name}' is neither a preset nor a file."
                f"{did_you_mean(text_name, preset_names())} Presets: {', '.join(preset_names())}.")
    text = path.read_text(encoding="utf-8")
    return parse_space(text, source=str(path), name=path.stem)


def parse_space(text: str, *, source: str, name: str) -> SearchSpace:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpaceError(source, "YAML", f"not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise SpaceError(source, "(top level)", "expected a mapping with keys 'params' and "
                         f"optionally 'training' and 'description'; got {type(document).__name__}.")
    _only_keys(document, {"params", "training", "description"}, source, "(top level)")
    params = document.get("params")
    if not isinstance(params, dict) or not params:
        raise SpaceError(source, "params", "expected a mapping of parameter name to distribution.")
    known = {f.name for f in fields(ModelConfig)} - {"lookback"}  # searched from the data
    parsed: list[Parameter] = []
    for key, spec in params.items():
        if key not in known:
            raise SpaceError(source, f"params.{key}", f"unknown parameter.{did_you_mean(key, known)}"
                             f" Known: {', '.join(sorted(known))}.")
        parsed.append(_parameter(str(key), spec, source))
    _check_cell(params, source)
    names = [p.name for p in parsed]
    for p in parsed:
        if p.condition and p.condition[0] not in names[:names.index(p.name)]:
            raise SpaceError(source, f"params.{p.name}.when", f"'{p.condition[0]}' must be a "
                             "parameter listed before this one.")
    return SearchSpace(name=name, source=source, text=text,
                       description=str(document.get("description", "")),
                       parameters=tuple(parsed), training=_training(document.get("training"),
                                                                    source))


def _parameter(name: str, spec: Any, source: str) -> Parameter:
    key = f"params.{name}"
    if not isinstance(spec, dict):
        raise SpaceError(source, key, f"expected a mapping with 'type'; got {spec!r}.")
    kind = spec.get("type")
    if kind not in ("float", "int", "categorical"):
        raise SpaceError(source, f"{key}.type", f"must be float, int or categorical; got {kind!r}.")
    condition = _condition(spec.get("when"), source, key)
    if kind == "categorical":
        _only_keys(spec, {"type", "choices", "when"}, source, key)
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise SpaceError(source, f"{key}.choices", f"must be a non-empty list; got {choices!r}.")
        for choice in choices:
            _check_value(name, choice, source, f"{key}.choices")
        return Parameter(name, CategoricalDistribution(choices), condition)
    _only_keys(spec, {"type", "low", "high", "log", "step", "when"}, source, key)
    low, high = spec.get("low"), spec.get("high")
    for bound, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpaceError(source, f"{key}.{bound}", f"must be a number; got {value!r}.")
        if kind == "int" and not float(value).is_integer():
            raise SpaceError(source, f"{key}.{bound}", f"must be an integer for type int; got "
                             f"{value!r}.")
        _check_value(name, value, source, f"{key}.{bound}")
    assert isinstance(low, (int, float)) and isinstance(high, (int, float))  # checked above
    if low > high:
        raise SpaceError(source, key, f"low must not exceed high; got low={low}, high={high}.")
    log, step = bool(spec.get("log", False)), spec.get("step")
    if log and step is not None:
        raise SpaceError(source, key, "log and step cannot be combined (Optuna's rule).")
    if log and low <= 0:
        raise SpaceError(source, f"{key}.low", f"must be above 0 when log is true; got {low}.")
    if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float))
                             or step <= 0):
        raise SpaceError(source, f"{key}.step", f"must be a positive number; got {step!r}.")
    if kind == "int":
        distribution: BaseDistribution = IntDistribution(int(low), int(high), log=log,
                                                         step=int(step or 1))
    else:
        distribution = FloatDistribution(float(low), float(high), log=log,
                                         step=float(step) if step is not None else None)
    return Parameter(name, distribution, condition)


def _check_value(name: str, value: Any, source: str, key: str) -> None:
    if name == "cell":
        if value not in CELLS:
            raise SpaceError(source, key, f"cell must be 'gru' or 'lstm'; got {value!r}.")
        return
    if name == "bidirectional":
        if not isinstance(value, bool):
            raise SpaceError(source, key, f"must be true or false; got {value!r}.")
        return
    kind, lowest, highest = _RULES[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            kind is int and not float(value).is_integer()):
        raise SpaceError(source, key, f"{name} takes {kind.__name__} values; got {value!r}.")
    if not lowest <= value <= highest:
        raise SpaceError(source, key, f"{name} must lie in [{lowest}, {highest}]; got {value!r}.")


def _check_cell(params: dict[str, Any], source: str) -> None:
    spec = params.get("cell")
    if not isinstance(spec, dict) or spec.get("type") != "categorical" or sorted(
            spec.get("choices") or []) != sorted(CELLS):
        raise SpaceError(source, "params.cell", "the cell must be searched: expected "
                         "{type: categorical, choices: [gru, lstm]}; got "
                         f"{spec!r}.")


def _condition(text: Any, source: str, key: str) -> tuple[str, str, float] | None:
    if text is None:
        return None
    match = _CONDITION.match(str(text))
    if not match:
        raise SpaceError(source, f"{key}.when", f"expected '<parameter> <op> <number>' such as "
                         f"'num_layers > 1'; got {text!r}.")
    other, op, value = match.groups()
    try:
        return other, op, float(value)
    except ValueError:
        raise SpaceError(source, f"{key}.when", f"'{value}' is not a number.") from None


def _training(spec: Any, source: str) -> TrainingSettings:
    if spec is None:
        return TrainingSettings()
    if not isinstance(spec, dict):
        raise SpaceError(source, "training", f"expected a mapping; got {spec!r}.")
    allowed = {f.name: f for f in fields(TrainingSettings)}
    _only_keys(spec, set(allowed), source, "training")
    values: dict[str, Any] = {}
    for key, value in spec.items():
        is_int = allowed[key].type in ("int", int)
        ok = (not isinstance(value, bool) and isinstance(value, (int, float)) and value > 0
              and (not is_int or float(value).is_integer()))
        if not ok:
            what = "a positive integer" if is_int else "a positive number"
            raise SpaceError(source, f"training.{key}", f"must be {what}; got {value!r}.")
        values[key] = int(value) if is_int else float(value)
    return TrainingSettings(**values)


def _only_keys(mapping: dict[str, Any], allowed: set[str], source: str, where: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise SpaceError(source, f"{where}.{key}" if where != "(top level)" else str(key),
                             f"unknown key.{did_you_mean(str(key), allowed)} Allowed: "
                             f"{', '.join(sorted(allowed))}.")
