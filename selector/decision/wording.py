"""A verdict put in words: the headline and the rationale's sentences, for each reason code
of `selector.decision.verdict`."""

from __future__ import annotations

from selector.choices import Cell
from selector.decision.criteria import cost_line, interval_text, size_line
from selector.decision.verdict import Verdict, feasible_cells
from selector.errors import param
from selector.records import CellEvidence, Comparison

NOT_LEARNED = ("not-learned", "learned-alone", "too-few-pairs", "credible-win",
               "no-cost-difference", "inconclusive", "on-par-cheaper")  # reasons past rule 2


def headline(v: Verdict, cells: dict[Cell, CellEvidence]) -> str:
    if v.winner is None:
        if v.reason == "not-learned":
            return "No recommendation: neither cell learned the task."
        return "No recommendation: no cell meets the hard budgets."
    config = cells[v.winner].config
    shape = f"{config['hidden_size']} x {config['num_layers']}" + (
        " bidirectional" if config.get("bidirectional") else "") + (
        f", lookback {config['lookback']}" if config.get("lookback") else "")
    return (f"{v.winner.upper()} ({v.confidence}): {shape}, learning rate "
            f"{config['learning_rate']:.2g}")


def rationale(v: Verdict, cells: dict[Cell, CellEvidence], c: Comparison, score: str) -> list[str]:
    """Why: what ruled cells out, then the sentence of the rule that decided."""
    return [*_ruled_out(v, cells, c), *_decided(v, cells, c, score)]


def _ruled_out(v: Verdict, cells: dict[Cell, CellEvidence], c: Comparison) -> list[str]:
    why = [f"{name.upper()} breaks the hard budget: {'; '.join(e.violations)}."
           for name, e in cells.items() if e.violations]
    why += [f"{name.upper()} has no complete search trial to retrain."
            for name in sorted({"gru", "lstm"} - set(cells))]
    if v.reason in NOT_LEARNED:
        why += [f"{name.upper()} did not learn: none of its {c.runs[name]} final run(s) beat the "
                "trivial baseline" + (f" ({c.cut[name]} of them cut short by {param('budget')})."
                                      if c.cut.get(name) else ".")
                for name in feasible_cells(cells) if not c.learned.get(name)]
    return why


def _decided(v: Verdict, cells: dict[Cell, CellEvidence], c: Comparison,
             score: str) -> list[str]:
    winner = (v.winner or "").upper()
    if v.reason == "over-budget":
        return ["No cell meets the hard budgets: loosen them or search a smaller space (e.g. "
                f"{param('space', 'edge')})."]
    if v.reason == "untested":
        return [f"{winner} is the only cell with a trained candidate: nothing was compared. Run "
                f"more trials (or a larger {param('budget')}) before relying on it."]
    if v.reason == "only-one-fits":
        return [f"{winner} is the only cell that fits."]
    if v.reason == "not-learned":
        return ["Neither cell learned the task: no recommendation. Give training more epochs (a "
                f"search space with a larger max_epochs, e.g. {param('space', 'long_sequences')}) "
                f"or a larger {param('budget')}, or check that the inputs can predict the target."]
    if v.reason == "learned-alone":
        return [_learned_alone(v, cells, c, score)]
    if v.reason == "too-few-pairs":
        few = ("budget exhausted after 1 seed pair" if c.pairs == 1 else
               "no pair of runs in which both cells learned")
        shown = "" if c.gain_mean is None else \
            f" (one pair: gain of LSTM over GRU {c.gain_mean:+.4g} {score})"
        return [f"Toss-up: {few}{shown}, too little for an interval; {winner} is named for its "
                f"cost ({cost_line(c)}; {size_line(c)}). Run again with a larger "
                f"{param('budget')} before relying on it."]
    return _compared(v, c, score)


def _learned_alone(v: Verdict, cells: dict[Cell, CellEvidence], c: Comparison,
                   score: str) -> str:
    assert v.winner is not None
    other = next(n for n in feasible_cells(cells) if n != v.winner)
    text = (f"{v.winner.upper()} is named because it learned the task at all, in "
            f"{c.learned[v.winner]} of {c.runs[v.winner]} runs, ")
    if v.confidence == "toss-up":  # the other was cut by the budget
        return text + ("within the time the budget gave both cells; no gain was measured. A "
                       f"larger {param('budget')} may change this.")
    text += f"while {other.upper()} did not within its warm-up"
    if c.gain_mean is None:
        return text + "; no gain was measured."
    return text + (f", counted at what it scored: gain of LSTM over GRU {c.gain_mean:+.4g} "
                   f"{score} ({interval_text(c)}); minimum worthwhile gain {c.min_gain:.4g}.")


def _compared(v: Verdict, c: Comparison, score: str) -> list[str]:
    assert v.winner is not None and c.gain_mean is not None
    gain, worth, winner = c.gain_mean, c.min_gain, v.winner.upper()
    interval = interval_text(c)
    if v.reason == "credible-win":
        return [f"{'L3: ' if v.winner == 'lstm' else ''}{winner} is better by {abs(gain):.4g} "
                f"{score} (gain of LSTM over GRU {gain:+.4g}, {interval}), more than the minimum "
                f"worthwhile gain {worth:.4g}, and the gain is credible.", cost_line(c)]
    on_par = (f"G5: the cells are on par: gain of LSTM over GRU {gain:+.4g} {score} "
              f"({interval}); minimum worthwhile gain {worth:.4g}.")
    if v.reason == "no-cost-difference":
        return [on_par, f"No cost difference is larger than its own noise ({cost_line(c)}): a "
                f"toss-up. Either cell is fine; {winner} is named for being the smaller network "
                f"({size_line(c)}) (G5, E1, E3)."]
    if v.reason == "inconclusive":
        assert v.leader is not None
        return [on_par, f"Inconclusive: {v.leader.upper()} scored better on average by "
                f"{abs(gain):.4g}, but not credibly, and {winner} is cheaper ({cost_line(c)}). "
                f"Re-run with more {_more_seeds(c)} before relying on this (E1)."]
    tail = f"{winner} is cheaper as measured here ({cost_line(c)})."
    if not v.equivalent:
        tail += (" The interval is too wide to rule out a worthwhile difference: more "
                 f"{_more_seeds(c)} would sharpen it.")
    return [on_par, tail]


def _more_seeds(c: Comparison) -> str:
    """The option that buys more seed pairs: the sequential comparison's most (or the budget
    that stopped it), a fixed comparison's number."""
    if not c.most_pairs:
        return param("seeds")
    return f"time ({param('budget')})" if c.stopped == "budget" else param("max_seeds")
