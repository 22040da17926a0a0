"""Notebook 07, graphs: the narrowest beam that reaches a recall.

Every setting a check tries is set on a copy of the learner's index (``copy.copy``), so checking
never changes what the notebook holds.
"""

from __future__ import annotations

import copy

import numpy as np

from ...cosine_search import CosineIndex
from ...evaluation import recall_at_k
from ...graph import GraphIndex
from ..exercise_book import Exercise
from ..exercises import Check

K = 10
BEAM_WIDTHS = (8, 12, 16, 24, 32, 48, 64)


def _wrong(message: str) -> Check:
    return Check("wrong", "answer", message)


def _exact_ids(embeddings, queries):
    return CosineIndex().add(embeddings).search(queries, K)[1]


def _with(index, **settings):
    """A copy of ``index`` with other query-time settings; the original keeps its own."""
    changed = copy.copy(index)
    for name, value in settings.items():
        setattr(changed, name, value)
    return changed


def _number(value):
    """``value`` as a float if it is one number, else None (the checker then says what it expected)."""
    if np.ndim(value) != 0 or isinstance(value, (bool, str, np.bool_)):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _recall(index, queries, true_ids, **settings) -> float:
    return recall_at_k(_with(index, **settings).search_with_stats(queries, K)[1], true_ids)


def narrowest_beam(answer, *, index, embeddings, queries, **_) -> Check:
    if not isinstance(index, GraphIndex):
        return _wrong(f"pass the notebook's GraphIndex as index=, got {type(index).__name__}")
    value = _number(answer)
    if value not in BEAM_WIDTHS:
        return _wrong(f"give one of {', '.join(map(str, BEAM_WIDTHS))}; got {answer!r}")
    answer, true_ids = int(value), _exact_ids(embeddings, queries)
    if _recall(index, queries, true_ids, ef_search=answer) < 0.95:
        return _wrong(f"at ef_search={answer} recall@10 is below 0.95: that beam is too narrow")
    narrower = BEAM_WIDTHS[BEAM_WIDTHS.index(answer) - 1] if answer != BEAM_WIDTHS[0] else None
    if narrower is not None and _recall(index, queries, true_ids, ef_search=narrower) >= 0.95:
        return _wrong(f"ef_search={answer} reaches 0.95, but a narrower beam in the list already does: "
                      "try them from the smallest up")
    return Check("right", "answer", "right")


EXERCISES = [
    Exercise(1, 2, "The narrowest beam that reaches recall@10 0.95",
             ("ef_search is read at query time: change it, search again, no rebuild.",
              "For each width from the smallest up: graph.ef_search = width, t.recall_at_k(graph.search(queries, "
              "K)[1], exact_ids); stop at the first that is >= 0.95."),
             narrowest_beam,
             wrong=("for answer_ef in (8, 12, 16, 24, 32, 48, 64):\n"
                    "    graph.ef_search = answer_ef\n"
                    "    if t.recall_at_k(graph.search(queries, K)[1], exact_ids) >= 0.9:\n"
                    "        break",
                    "answer_ef = 64")),
]
