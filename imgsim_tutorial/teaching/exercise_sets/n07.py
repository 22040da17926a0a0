"""Notebook 07, graphs: the narrowest beam that reaches a recall, how many nodes HNSW puts above its
bottom layer (predicted, then measured), and many entry points instead of long links.

Every setting a check tries is set on a copy of the learner's index (``copy.copy``, or
``copy.deepcopy`` where the links are rebuilt), so checking never changes what the notebook holds.
"""

from __future__ import annotations

import copy

import numpy as np

from ...evaluation import recall_at_k
from ...graph import GraphIndex
from ..exercise_book import Exercise
from ..exercises import Check, check_value
from ..exercises import exact_top_ids as _exact_ids
from ..exercises import one_number as _number
from ..exercises import recall_with as _recall
from ..exercises import with_settings as _with
from ..exercises import wrong as _wrong

K = 10
BEAM_WIDTHS = (8, 12, 16, 24, 32, 48, 64)
ENTRY_POINTS, ENTRY_BEAM = 400, 32  # exercise 3: n / 25 entry points, at the beam islands was built with


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


def upper_layers(predicted, measured=None, *, index, **_) -> Check:
    import faiss

    index = faiss.downcast_index(index) if isinstance(index, faiss.Index) else index
    if not isinstance(index, faiss.IndexHNSW):
        return _wrong(f"pass the FAISS HNSW index you built as index=, got {type(index).__name__}")
    if index.hnsw.max_level == 0:
        return _wrong("every node of this index is on the bottom layer (built with layers=False?): build "
                      "hnsw_index(embeddings, M=16, ef_construction=40)")
    n, m = index.ntotal, index.hnsw.nb_neighbors(1)  # M: the links per node on an upper layer
    theory = n / m
    mistakes = [(n - theory, "that counts the nodes on the bottom layer only; the question asks for the others"),
                (1 / m, "that is the chance for one node; the question asks how many of the N nodes"),
                (n / (2 * m), "a node goes up with probability 1/M, not 1/(2M) (2M is the bottom layer's links)")]
    value = _number(predicted)
    named = [why for wrong, why in mistakes if value is not None and np.isclose(value, wrong)]
    if named:
        return _wrong("the prediction: " + named[0])
    verdict = check_value(predicted, theory, atol=0.5, rtol=0)
    if not verdict:
        return _wrong("the prediction does not follow from the chance 1/M of going up: " + verdict.message)
    if measured is None:
        return _wrong("the prediction is right; now measure it on the index (answer_measured)")
    levels = faiss.vector_to_array(index.hnsw.levels)  # per node: the number of layers it is on (1 = bottom only)
    truth, value = int((levels > 1).sum()), _number(measured)
    if value is not None and value == float(predicted) and truth != theory:
        return _wrong("your measurement equals your prediction exactly: count the nodes in the index's levels "
                      "instead of copying the prediction")
    if value is not None and value == n:
        return _wrong("that counts every node: hnsw.levels holds the number of layers each node is on, so a "
                      "node on the bottom layer only has 1")
    if value is not None and value == (levels == 2).sum():
        return _wrong("that counts the nodes whose top layer is 1; a node on layer 2 or 3 is on layer 1 too")
    verdict = check_value(measured, truth, atol=0.5, rtol=0)
    if not verdict:
        return _wrong("the prediction is right, the measurement is off: " + verdict.message)
    return Check("right", "answer", f"right ({truth / n:.1%} of the nodes carry the upper layers; the "
                                    f"prediction's {theory / n:.1%} is the average over draws)")


def _scored(index, queries, true_ids) -> list[float]:
    """[recall@10, mean share of the nodes a query scores] at the exercise's beam width."""
    _, ids, found = _with(index, ef_search=ENTRY_BEAM).search_with_stats(queries, K)
    return [recall_at_k(ids, true_ids), float(found["n_candidates"].mean() / len(index))]


def entry_points(answer, *, index, embeddings, queries, **_) -> Check:
    if not isinstance(index, GraphIndex) or index.n_long_links != 0 or index.n_entry_points != ENTRY_POINTS \
            or len(index) != len(embeddings):
        return _wrong(f"index should be a copy of islands (no long links) with n_entry_points={ENTRY_POINTS}, "
                      f"holding all {len(embeddings):,} embeddings; got {index!r}")
    values = [_number(value) for value in answer] if np.ndim(answer) == 1 else []
    if len(values) != 2 or None in values:
        return _wrong("give two numbers: [recall@10, share of the data a query scores]")
    rebuilt, true_ids = copy.deepcopy(index).relink(), _exact_ids(embeddings, queries)
    truth, as_held = np.array(_scored(rebuilt, queries, true_ids)), np.array(_scored(index, queries, true_ids))
    values = np.array(values)
    if np.allclose(values, truth, atol=1e-9, rtol=0):
        return Check("right", "answer", f"right (before it walks, a query scores the centres of the {ENTRY_POINTS} "
                                        "entry points' groups and the entry points in its nearest groups)")
    if np.allclose(values, truth[::-1], atol=1e-9, rtol=0):
        return _wrong("swapped: give [recall@10, share scored]")
    if not np.allclose(truth, as_held) and np.allclose(values, as_held, atol=1e-9, rtol=0):
        return _wrong("measured before the links were rebuilt: the entry points are chosen by relink(), so "
                      "call it after setting n_entry_points")
    if np.isclose(values[1], truth[1] * len(index)):
        return _wrong("the share is a number of nodes; as a share, divide by the number of nodes")
    what = [name for name, value, right in zip(("recall@10", "share scored"), values, truth)
            if not np.isclose(value, right, atol=1e-9, rtol=0)]
    return _wrong(f"the {' and the '.join(what)} {'is' if len(what) == 1 else 'are'} off: measure at "
                  f"ef_search={ENTRY_BEAM} against exact_ids, the share as n_candidates over N")


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
    Exercise(2, 2, "How many nodes HNSW puts above its bottom layer",
             ("Every node takes the same chance of going up, independently of the others: the expected count is "
              "the number of nodes times that chance. The measurement reads each node's levels from the index.",
              "Predict N / M with M=16. Then layered = hnsw_index(embeddings, M=16, ef_construction=40); "
              "faiss.vector_to_array(layered.hnsw.levels) holds, per node, how many layers it is on (1 = the "
              "bottom only): count those above 1."),
             upper_layers, predict=True,
             wrong=("answer_measured = answer_predicted",
                    "answer_measured = int((faiss.vector_to_array(layered.hnsw.levels) > 0).sum())",
                    "answer_predicted = N / (2 * 16)")),
    Exercise(3, 3, "Many entry points instead of long links",
             ("islands has no long links; entry points are chosen when the links are rebuilt. Work on a deep copy, "
              "so that islands stays as it is.",
              "entries = copy.deepcopy(islands); entries.n_entry_points = 400; entries.relink(); then "
              "entries.search_with_stats(queries, K) at ef_search=32: recall against exact_ids, and "
              "stats['n_candidates'].mean() / N."),
             entry_points,
             wrong=("answer_entries = answer_entries[::-1]",
                    "answer_entries = [answer_entries[0], answer_entries[1] * N]",
                    "_, _ids, _found = islands.search_with_stats(queries, K)\n"
                    "answer_entries = [t.recall_at_k(_ids, exact_ids), _found['n_candidates'].mean() / N]")),
]
