"""The verdict as a typed outcome: which cell, how sure, and the rule that decided (a reason
code), from the cells' evidence and the paired comparison. No English here: `wording` says it.

The rules, in order (selector/docs/criteria.md):

1. hard budgets first: a cell that breaks one is out; a cell never trained is not compared;
2. a cell that learned the task (beat the trivial baseline) beats one that did not; clearly
   when the other trained to its end and the paired gain is credibly above the minimum gain;
3. a credible gain above the minimum worthwhile gain decides (L3 for LSTM, likewise GRU);
4. otherwise the cells are on par (G5): the cheaper one, counting only cost differences larger
   than their own noise; with none, the smaller network.
"""

from __future__ import annotations

from dataclasses import dataclass

from selector.choices import Cell, Confidence, Reason
from selector.decision.criteria import worthwhile_win
from selector.records import CellEvidence, Comparison

TOSS_UP_COST = 1.10  # cost indices closer than this are no reason to prefer either cell
CLEAR_COST = 1.25  # an on-par verdict is clear when the winner is this much cheaper


@dataclass(frozen=True)
class Verdict:
    """The decision before it is put in words.

    ``reason`` names the rule that decided (see `selector.choices.Reason`). ``equivalent``:
    the gain's interval lies inside ± the minimum gain; ``leader``: the cell ahead on mean
    score when the gain was not credible.
    """

    winner: Cell | None
    confidence: Confidence
    reason: Reason
    equivalent: bool = False
    leader: Cell | None = None


def feasible_cells(cells: dict[Cell, CellEvidence]) -> list[Cell]:
    """The cells that meet every hard budget, in the evidence's order."""
    return [name for name, e in cells.items() if not e.violations]


def verdict_of(cells: dict[Cell, CellEvidence], c: Comparison) -> Verdict:
    """Apply the rules in order; the first that decides gives the verdict."""
    feasible = feasible_cells(cells)
    if not feasible:
        return Verdict(None, "none", "over-budget")
    if len(feasible) == 1:
        if {"gru", "lstm"} - set(cells):  # never tried (pruned, failed, or out of budget)
            return Verdict(feasible[0], "toss-up", "untested")
        return Verdict(feasible[0], "clear", "only-one-fits")
    learners = [name for name in feasible if c.learned.get(name)]
    if not learners:
        return Verdict(None, "none", "not-learned")
    if len(learners) == 1:
        return _learned_alone(learners[0], next(n for n in feasible if n != learners[0]), c)
    return _compared(c)


def _learned_alone(learner: Cell, other: Cell, c: Comparison) -> Verdict:
    """Only ``learner`` beat the trivial baseline. If the budget cut ``other`` short, more time
    might have changed that: a toss-up. Otherwise ``other`` trained to its end at chance and
    its runs count at what they scored: clear when the paired gain is a worthwhile win."""
    if c.cut.get(other):
        return Verdict(learner, "toss-up", "learned-alone")
    low, high = c.ci_low, c.ci_high
    if worthwhile_win(c) == learner and low is not None and high is not None:
        sure: Confidence = "clear" if (low if learner == "lstm" else -high) >= c.min_gain \
            else "lean"
        return Verdict(learner, sure, "learned-alone")
    return Verdict(learner, "lean", "learned-alone")


def _compared(c: Comparison) -> Verdict:
    """Both cells fit and learned: the paired gain, then the costs."""
    assert c.cost_index is not None and c.size_ratio is not None
    smaller: Cell = "lstm" if c.size_ratio < 1 else "gru"
    cheaper: Cell = "gru" if c.cost_index >= 1 else "lstm"
    gap = max(c.cost_index, 1 / c.cost_index)
    if c.gain_mean is None or c.ci_low is None or c.ci_high is None:
        return Verdict(smaller if gap < TOSS_UP_COST else cheaper, "toss-up", "too-few-pairs")
    winner = worthwhile_win(c)
    if winner is not None:
        lstm = winner == "lstm"
        margin = c.ci_low if lstm else -c.ci_high  # the interval's end nearest to zero
        cheaper_too = c.cost_index <= 1 if lstm else c.cost_index >= 1
        sure: Confidence = "clear" if margin >= c.min_gain or cheaper_too else "lean"
        return Verdict(winner, sure, "credible-win")
    equivalent = -c.min_gain < c.ci_low and c.ci_high < c.min_gain
    if gap < TOSS_UP_COST:  # no credible cost difference: the smaller network
        return Verdict(smaller, "toss-up", "no-cost-difference", equivalent)
    leader: Cell = "lstm" if c.gain_mean > 0 else "gru"
    if abs(c.gain_mean) > c.min_gain and not equivalent and leader != cheaper:
        return Verdict(cheaper, "toss-up", "inconclusive", equivalent, leader)
    sure = "clear" if equivalent and gap >= CLEAR_COST else "lean"
    return Verdict(cheaper, sure, "on-par-cheaper", equivalent)
