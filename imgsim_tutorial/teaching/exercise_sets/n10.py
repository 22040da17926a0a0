"""Notebook 10, filtered search: the nearest leaves of one label, the allowed items a fixed
over-fetch holds (predicted, then measured), and the nprobe FAISS's filtered IVF needs.

Every reference is worked out here from the objects the notebook passes; nothing the learner's
objects hold is changed (FAISS's ``nprobe`` is passed per call, never set on the index).
"""

from __future__ import annotations

import warnings

import numpy as np

from ...cosine_search import CosineIndex
from ...evaluation import recall_at_k
from ...filtering import prefilter_search
from ...index_base import ShortResultWarning
from ..exercise_book import Exercise
from ..exercises import Check, check_ids, check_value
from ..exercises import one_number as _number
from ..exercises import wrong as _wrong

K, TOP, FETCH, TARGET = 10, 5, 100, 0.95
LABEL = "bean_rust"


def _unit(vectors):
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def _same_ids(answer, ids) -> bool:
    return np.shape(answer) == np.shape(ids) and bool(check_ids(answer, ids, ordered=False))


def label_neighbours(answer, *, embeddings, labels, names, query, **_) -> Check:
    mask = np.asarray(labels) == list(names).index(LABEL)
    index = CosineIndex().add(embeddings)
    truth = index.search(query, TOP, allowed=mask)[1][0]
    if np.ndim(answer) != 1 or len(answer) != TOP:
        return _wrong(f"give {TOP} ids in one flat list, nearest first; got shape {np.shape(answer)}")
    if _same_ids(answer, index.search(query, TOP)[1][0]) and not _same_ids(answer, truth):
        return _wrong(f"these are the nearest leaves of any label: pass allowed= a mask of the {LABEL} leaves")
    subset = np.argsort(-(_unit(embeddings[mask]) @ _unit(query)), kind="stable")[:TOP]
    if _same_ids(answer, subset) and not _same_ids(answer, truth):
        return _wrong(f"those are positions in the subset of {LABEL} leaves, not ids of the collection: map them "
                      "back through np.flatnonzero(mask)")
    answer_ids = np.asarray(answer)
    if answer_ids.dtype.kind in "iu" and ((answer_ids < 0) | (answer_ids >= len(mask))).any():
        return _wrong(f"some ids are not ids of the {len(mask)} candidates")
    if answer_ids.dtype.kind in "iu" and not mask[answer_ids].all():
        return _wrong(f"{int((~mask[answer_ids]).sum())} of your ids are leaves of another label than {LABEL}")
    verdict = check_ids(answer, truth)
    return Check("right", "answer", "right") if verdict else _wrong(verdict.message)


def _allowed_counts(index, queries, allowed) -> np.ndarray:
    """How many of each query's ``FETCH`` results the filter allows: (nq,)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortResultWarning)
        ids = index.search(queries, FETCH)[1]
    return ((ids >= 0) & allowed[np.clip(ids, 0, None)]).sum(axis=1)


def allowed_in_fetch(predicted, measured=None, *, index, queries, allowed, **_) -> Check:
    allowed = np.asarray(allowed)
    if allowed.dtype != bool or allowed.shape != (len(index),):
        return _wrong(f"pass the notebook's filter as allowed= (a mask of {len(index)} booleans)")
    theory = FETCH * allowed.mean()
    value = _number(predicted)
    if value is None:
        return _wrong(f"the prediction should be one number, got {predicted!r}")
    if np.isclose(value, allowed.mean(), atol=0.005):
        return _wrong(f"the prediction is the filter's share; the question asks how many of the {FETCH} results")
    if abs(value - theory) > 0.25:
        return _wrong("the prediction does not follow from the share the filter allows and the number fetched")
    if measured is None:
        return _wrong("the prediction is right; now measure the mean count over all queries (answer_measured)")
    counts, got = _allowed_counts(index, queries, allowed), _number(measured)
    truth = float(counts.mean())
    if got is not None and got == value and not np.isclose(truth, value, atol=1e-9):
        return _wrong("your measurement equals your prediction exactly: count the allowed ids among the results")
    if got is not None and np.isclose(got, truth / FETCH, atol=1e-9):
        return _wrong(f"that is a share of the {FETCH} results; the question asks for a count")
    if got is not None and np.isclose(got, counts[0], atol=1e-9) and not np.isclose(got, truth, atol=1e-9):
        return _wrong("that is query 0's count; average over all queries")
    verdict = check_value(measured, truth, atol=1e-6)
    if not verdict:
        return _wrong("the prediction is right, the measurement is off: " + verdict.message)
    short = float((counts < K).mean())
    return Check("right", "answer", f"right ({short:.0%} of the queries keep fewer than {K} allowed results)")


def _nprobe_choices(faiss_index) -> tuple:
    return tuple(sorted({8, 16, 32, 64, int(faiss_index.nlist)}))


def _faiss_recall(faiss_index, queries, truth, allowed, nprobe) -> float:
    import faiss

    bits = np.packbits(allowed, bitorder="little")  # alive until the search is done
    selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bits))
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    ids = faiss_index.search(queries, K, params=faiss.SearchParametersIVF(nprobe=int(nprobe), sel=selector))[1]
    return recall_at_k(ids, truth)


def filtered_nprobe(answer, *, faiss_index, embeddings, queries, allowed, **_) -> Check:
    if not hasattr(faiss_index, "nlist"):
        return _wrong(f"pass the notebook's faiss.IndexIVFFlat as faiss_index=, got {type(faiss_index).__name__}")
    choices, value = _nprobe_choices(faiss_index), _number(answer)
    if value not in choices:
        return _wrong(f"give one of {', '.join(map(str, choices))}; got {answer!r}")
    allowed = np.asarray(allowed)
    truth = prefilter_search(embeddings, queries, K, allowed)[1]
    recall = {n: _faiss_recall(faiss_index, queries, truth, allowed, n) for n in choices}
    answer = int(value)
    if recall[answer] < TARGET:
        return _wrong(f"at nprobe={answer} recall@{K} is below {TARGET}: too few lists for this filter")
    smaller = [n for n in choices if n < answer and recall[n] >= TARGET]
    if smaller:
        return _wrong(f"nprobe={answer} reaches {TARGET}, but a smaller one in the list already does: try them "
                      "from the smallest up")
    return Check("right", "answer", f"right (it scans {answer / faiss_index.nlist:.0%} of the lists to find the "
                                    f"nearest of {int(allowed.sum())} allowed items)")


EXERCISES = [
    Exercise(1, 1, f"The nearest {LABEL} leaves",
             ("A filter is a boolean mask over the candidates, one entry per leaf.",
              f"allowed=candidate_labels == label_names.index('{LABEL}') in leaf_index.search(query, 5, allowed=...); "
              "the ids are the first row of what it returns."),
             label_neighbours,
             wrong=("answer_ids = leaf_index.search(query, 5)[1][0]",
                    "answer_ids = np.argsort(-(candidate_embeddings[candidate_labels == label_names.index("
                    "'bean_rust')] @ query))[:5]",
                    "answer_ids = leaf_index.search(query, 5, allowed=healthy)[1][0]")),
    Exercise(2, 2, "How many allowed results a fixed over-fetch holds",
             ("Each result is allowed with about the probability the filter allows any item.",
              "ids = ivf.search(queries, 100)[1]; two_percent[ids] is True where a result is allowed: sum each "
              "row, then take the mean."),
             allowed_in_fetch, predict=True,
             wrong=("answer_measured = answer_predicted",
                    "answer_measured = answer_measured / 100",
                    "answer_measured = float(two_percent[ivf.search(queries[:1], 100)[1][0]].sum())")),
    Exercise(3, 3, "The nprobe FAISS's filtered IVF needs",
             ("Compare with exact search over the allowed rows (exact.search(queries, K, allowed=one_percent)); "
              "pass nprobe in the search parameters of each call.",
              "selector, bits = faiss_selector(one_percent); for each nprobe: faiss_ivf.search(queries, K, "
              "params=faiss.SearchParametersIVF(nprobe=nprobe, sel=selector))[1], then t.recall_at_k against "
              f"the exact ids; stop at the first that is >= {TARGET}."),
             filtered_nprobe,
             wrong=("answer_nprobe = 8", "answer_nprobe = 140", "answer_nprobe = 16")),
]
