"""Notebook 06, IVF: the share one IVF query scans (predicted, then measured), small cells against
large at equal recall, and how much of the collection the largest cells hold.

Every setting a check tries is set on a copy of the learner's index (``copy.copy``: the arrays
are shared, only the setting differs), so checking never changes what the notebook holds.
"""

from __future__ import annotations

import numpy as np

from ...ivf import IVFIndex
from ..exercise_book import Exercise
from ..exercises import Check, check_value
from ..exercises import exact_top_ids as _exact_ids
from ..exercises import one_number as _number
from ..exercises import recall_with as _recall
from ..exercises import with_settings as _with
from ..exercises import wrong as _wrong

K = 10
N_LARGEST = 10  # exercise 3: the share held by this many of the largest lists


def _share(index, queries, n_probes: int) -> float:
    """Mean share of the collection an IVF index scans per query at ``n_probes``."""
    found = _with(index, n_probes=n_probes).search_with_stats(queries, K)[2]
    return float(found["n_candidates"].mean() / len(index))


def share_scanned(predicted, measured=None, *, index, queries, **_) -> Check:
    if not isinstance(index, IVFIndex):
        return _wrong(f"pass the notebook's IVFIndex as index=, got {type(index).__name__}")
    theory = 5 / index.n_lists
    if check_value(predicted, 5, atol=1e-9):
        return _wrong("the prediction is a number of lists; the question asks for a share of the collection")
    verdict = check_value(predicted, theory, atol=1e-9)
    if not verdict:
        return _wrong("the prediction does not follow from 5 probed lists of equal size: " + verdict.message)
    if measured is None:
        return _wrong("the prediction is right; now measure the share query 0 really scans (answer_measured)")
    truth, value = _share(index, queries[:1], 5), _number(measured)
    if value is not None and value == float(predicted) and truth != theory:
        return _wrong("your measurement equals your prediction exactly: add up the sizes of the lists query 0 "
                      "probes instead of copying the prediction")
    if value is not None and np.isclose(value, truth * len(index)):
        return _wrong("the measurement is a number of embeddings; as a share, divide by the collection size")
    verdict = check_value(measured, truth, atol=1e-9)
    if not verdict:
        return _wrong("the prediction is right, the measurement is off: " + verdict.message
                      + "; add up the sizes of all 5 lists query 0 probes")
    return Check("right", "answer", f"right (query 0 scans {truth / theory:.2f} times what equal lists would give)")


def _fewest_probes(index, queries, true_ids) -> tuple[int, list]:
    """The smallest n_probes reaching recall@10 >= 0.9, and the shares scanned at 1 ... that many."""
    shares = []
    for n_probes in range(1, index.n_lists + 1):
        shares.append(_share(index, queries, n_probes))
        if _recall(index, queries, true_ids, n_probes=n_probes) >= 0.9:
            break
    return len(shares), shares


def _what_is_off(value, index, fewest, shares, queries) -> str:
    """Why one share is wrong, without the right one: too few probes, too many, or not measured."""
    label = f"the share with {index.n_lists} lists"
    if np.isclose(value, fewest / index.n_lists, atol=1e-9, rtol=0):
        return f"{label} assumes every list holds as many embeddings: measure what the queries scan"
    if any(np.isclose(value, share, atol=1e-9, rtol=0) for share in shares[:-1]):
        return f"{label} is at an n_probes where recall@10 is still below 0.9"
    more = range(fewest + 1, min(fewest + 4, index.n_lists) + 1)
    if any(np.isclose(value, _share(index, queries, n_probes), atol=1e-9, rtol=0) for n_probes in more):
        return f"{label} is at more n_probes than needed: fewer already reach recall@10 0.9"
    return (f"{label} is off (got {value:.4g}): average n_candidates over all queries, over the collection "
            "size, at the smallest n_probes that reaches recall@10 0.9")


def cells(answer, *, ivf, small_cells, embeddings, queries, **_) -> Check:
    for name, index, n_lists in (("ivf", ivf, 100), ("small_cells", small_cells, 400)):
        if not isinstance(index, IVFIndex) or index.n_lists != n_lists or len(index) != len(embeddings):
            return _wrong(f"{name} should be an IVFIndex with {n_lists} lists holding all {len(embeddings):,} "
                          f"embeddings; got {index!r}")
    values = [_number(value) for value in answer] if np.ndim(answer) == 1 else []
    if len(values) != 2 or None in values:
        return _wrong("give two shares: [with 100 lists, with 400 lists]")
    answer, true_ids = np.array(values), _exact_ids(embeddings, queries)
    found = [_fewest_probes(index, queries, true_ids) for index in (ivf, small_cells)]
    truth = np.array([shares[-1] for _, shares in found])
    if np.allclose(answer, truth, atol=1e-9, rtol=0):
        return Check("right", "answer", f"right (the same recall, {truth[0] / truth[1]:.1f}x fewer embeddings "
                                        "scanned with small cells; count their centroids too)")
    if np.allclose(answer, truth[::-1], atol=1e-9, rtol=0):
        return _wrong("the two shares are swapped: give [with 100 lists, with 400 lists]")
    if np.allclose(answer, truth * len(ivf), atol=1e-6, rtol=0):
        return _wrong("those are numbers of embeddings; as shares, divide by the collection size")
    return _wrong("; ".join(_what_is_off(value, index, fewest, shares, queries)
                            for (fewest, shares), index, value, right in zip(found, (ivf, small_cells), answer, truth)
                            if not np.isclose(value, right, atol=1e-9, rtol=0)))


def largest_lists(answer, *, index, **_) -> Check:
    if not isinstance(index, IVFIndex):
        return _wrong(f"pass the notebook's IVFIndex as index=, got {type(index).__name__}")
    sizes, n = index.list_sizes(), len(index)
    truth = np.sort(sizes)[-N_LARGEST:].sum() / n
    value = _number(answer)
    if value is None:
        return _wrong(f"give one number, a share of the collection; got {answer!r}")
    mistakes = [(truth * n, "that is a number of embeddings; as a share, divide by the collection size"),
                (np.sort(sizes)[:N_LARGEST].sum() / n, "those are the smallest lists: sort, then take the last 10"),
                (sizes[:N_LARGEST].sum() / n, "those are lists 0 to 9, whatever their size: sort the sizes first"),
                (N_LARGEST / index.n_lists, "that is what 10 lists of equal size would hold; add up the real sizes")]
    for wrong, why in mistakes:
        if wrong != truth and np.isclose(value, wrong, atol=1e-9, rtol=0):
            return _wrong(why)
    verdict = check_value(answer, truth, atol=1e-9)
    if not verdict:
        return _wrong(verdict.message + "; the 10 largest of ivf.list_sizes(), added up, over the collection size")
    return Check("right", "answer", f"right ({truth * index.n_lists / N_LARGEST:.1f} times what lists of equal "
                                    "size would hold)")


EXERCISES = [
    Exercise(1, 2, "The share one IVF query scans",
             ("Predict as if all 100 lists held the same number of embeddings; then look at the real sizes.",
              "ivf.probed_lists(queries[:1], n_probes=5)[0] names the lists; ivf.list_sizes() holds every "
              "list's size; a share is a count over N."),
             share_scanned, predict=True,
             wrong=("answer_measured = answer_predicted",
                    "answer_measured = answer_measured * N",
                    "answer_measured = ivf.list_sizes()[ivf.probed_lists(queries[:1], n_probes=5)[0][0]] / N")),
    Exercise(2, 3, "Small cells or large: the share scanned at equal recall",
             ("Compare at the same recall, not at the same n_probes: each index needs its own n_probes.",
              "For each index, raise n_probes from 1 until t.recall_at_k(ids, exact_ids) >= 0.9 with ids from "
              "search_with_stats; its stats['n_candidates'].mean() / N is the share."),
             cells,
             wrong=("answer_shares = answer_shares[::-1]",
                    "answer_shares = [ivf.n_probes / ivf.n_lists, small_cells.n_probes / small_cells.n_lists]",
                    "answer_shares = [float(np.mean([index.list_sizes()[lists].sum() for lists in "
                    "index.probed_lists(queries, n_probes=5)])) / N for index in (ivf, small_cells)]")),
    Exercise(3, 1, "How much the largest cells hold",
             ("ivf.list_sizes() holds how many embeddings each of the 100 lists has; sort it.",
              "np.sort(ivf.list_sizes())[-10:] are the 10 largest; add them up and divide by N."),
             largest_lists,
             wrong=("answer_largest = np.sort(ivf.list_sizes())[:10].sum() / N",
                    "answer_largest = ivf.list_sizes()[:10].sum() / N",
                    "answer_largest = answer_largest * N")),
]
