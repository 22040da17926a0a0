"""Notebook 09, FAISS: HNSW's recall at one beam width, an HNSW index inside a dataset (metric
checked, recall measured), what HNSW's links cost (predicted, then measured), and how long a
shortlist binary codes need.

Settings a check tries are set on a copy of the learner's index (``copy.copy``), never on it.
"""

from __future__ import annotations

import numpy as np

from ...cosine_search import CosineIndex
from ...evaluation import recall_at_k
from ...faiss_index import FaissLSHIndex, HNSWIndex, dataset_search
from ..exercise_book import Exercise
from ..exercises import Check, check_value
from ..exercises import one_number as _number
from ..exercises import recall_with as _recall
from ..exercises import wrong as _wrong

K = 10
RERANK_LENGTHS = (20, 50, 100, 200, 500)


def hnsw_recall(answer, *, index, queries, pool, **_) -> Check:
    if not isinstance(index, HNSWIndex):
        return _wrong(f"pass the notebook's HNSWIndex as index=, got {type(index).__name__}")
    true_ids = CosineIndex().add(pool).search(queries, K)[1]
    truth, value = _recall(index, queries, true_ids, ef_search=30), _number(answer)
    verdict = check_value(answer, truth, atol=1e-9)
    if verdict:
        return verdict
    if value is not None and 1 < value <= 100 and np.isclose(value / 100, truth):
        return _wrong("a recall is a share between 0 and 1, not a percentage")
    if value is not None and index.ef_search != 30 and np.isclose(value, _recall(index, queries, true_ids)):
        return _wrong(f"that is the recall at ef_search={index.ef_search}, the setting the index holds now: "
                      "set it to 30 first")
    return _wrong(verdict.message + "; recall@10 of the 10 results of every query in pool_queries, against "
                  "pool_truth[1]")


def dataset_hnsw(answer, *, dataset, queries, candidates, **_) -> Check:
    import faiss

    if "hnsw" not in dataset.list_indexes():
        return _wrong("the dataset has no index named 'hnsw': add_faiss_index(..., index_name='hnsw')")
    index = faiss.downcast_index(dataset.get_index("hnsw").faiss_index)
    if not isinstance(index, faiss.IndexHNSW):
        return _wrong(f"the index named 'hnsw' is a {type(index).__name__}, not a graph: string_factory='HNSW32'")
    if index.metric_type != faiss.METRIC_INNER_PRODUCT:
        return _wrong("the index named 'hnsw' measures L2 distance (the default), where lower is better: "
                      "ask for metric_type=faiss.METRIC_INNER_PRODUCT")
    norms = np.linalg.norm(index.reconstruct_n(0, index.ntotal), axis=1)
    if not np.allclose(norms, 1, atol=1e-3):
        return _wrong("the vectors in the index are not unit length, so inner product is not cosine: index "
                      "normalised embeddings")
    found = dataset_search(dataset, queries, k=K, index_name="hnsw")[1]
    truth, value = recall_at_k(found, CosineIndex().add(candidates).search(queries, K)[1]), _number(answer)
    if value is not None and 1 < value <= 100 and np.isclose(value / 100, truth):
        return _wrong("the index is right; a recall is a share between 0 and 1, not a percentage")
    verdict = check_value(answer, truth, atol=1e-9)
    return verdict if verdict else _wrong("the index is right, its recall is not: " + verdict.message
                                          + "; compare its top-10 ids with exact_ids")


def link_memory(predicted, measured=None, *, index, **_) -> Check:
    if not isinstance(index, HNSWIndex):
        return _wrong(f"pass the notebook's HNSWIndex as index=, got {type(index).__name__}")
    vector_bytes, link_bytes = index.dim_ * 4, 4
    theory = vector_bytes + 2 * index.M * link_bytes
    if check_value(predicted, vector_bytes + index.M * link_bytes, atol=1e-6):
        return _wrong("the prediction counts M links per node; the bottom layer keeps up to 2 x M")
    if check_value(predicted, vector_bytes, atol=1e-6):
        return _wrong("the prediction counts the vector only; add the links")
    verdict = check_value(predicted, theory, atol=1e-6)
    if not verdict:
        return _wrong("the prediction is not the vector plus the bottom layer's links: " + verdict.message)
    if measured is None:
        return _wrong("the prediction is right; now measure it (answer_measured)")
    parts = index.memory_bytes()
    truth, value = parts["faiss_index"] / len(index), _number(measured)
    if value is not None and value == float(predicted) and truth != theory:
        return _wrong("your measurement equals your prediction exactly: measure the index's size instead of "
                      "copying the prediction")
    if value is not None and np.isclose(value, parts["faiss_index"]):
        return _wrong("that is the whole index; per vector, divide by the number of vectors")
    if value is not None and np.isclose(value, sum(parts.values()) / len(index)):
        return _wrong("that counts our ids array too; measure the FAISS index only (memory_bytes()['faiss_index'])")
    verdict = check_value(measured, truth, atol=1e-6)
    if not verdict:
        return _wrong("the prediction is right, the measurement is off: " + verdict.message)
    return Check("right", "answer", f"right (the index holds {truth - theory:.0f} bytes per vector more than "
                                    "predicted: each node's level, where its links start, and the upper layers)")


def rerank_length(answer, *, index, queries, pool, **_) -> Check:
    if not isinstance(index, FaissLSHIndex) or index.n_bits != 256:
        return _wrong(f"index should be a FaissLSHIndex with n_bits=256, got {index!r}")
    if not hasattr(index, "vectors_"):
        return _wrong("this index was built with n_rerank=0 and keeps no vectors to re-rank: build it with "
                      "n_rerank=20, then change n_rerank before each search")
    value = _number(answer)
    if value not in RERANK_LENGTHS:
        return _wrong(f"give one of {', '.join(map(str, RERANK_LENGTHS))} (a shortlist length); got {answer!r}")
    answer, true_ids = int(value), CosineIndex().add(pool).search(queries, K)[1]
    if _recall(index, queries, true_ids, n_rerank=answer) < 0.9:
        return _wrong(f"with n_rerank={answer} recall@10 is below 0.9: the shortlist is too short")
    shorter = RERANK_LENGTHS[RERANK_LENGTHS.index(answer) - 1] if answer != RERANK_LENGTHS[0] else None
    if shorter is not None and _recall(index, queries, true_ids, n_rerank=shorter) >= 0.9:
        return _wrong(f"n_rerank={answer} reaches 0.9, but a shorter list already does: try them from the "
                      "shortest up")
    return Check("right", "answer", "right")


EXERCISES = [
    Exercise(1, 1, "HNSW's recall@10 at ef_search=30",
             ("ef_search is read at search time: set it on the index, then search; nothing is rebuilt.",
              "hnsw.ef_search = 30, then t.recall_at_k(hnsw.search(pool_queries, 10)[1], pool_truth[1])."),
             hnsw_recall,
             wrong=("hnsw.ef_search = 160\n"
                    "answer_hnsw_recall = t.recall_at_k(hnsw.search(pool_queries, 10)[1], pool_truth[1])",
                    "answer_hnsw_recall = t.recall_at_k(hnsw.search(pool_queries, 10)[1][:, :1], pool_truth[1][:, :1])",
                    "answer_hnsw_recall = 100 * answer_hnsw_recall")),
    Exercise(2, 2, "An HNSW graph inside the dataset",
             ("The factory string names the kind of index; the metric is a separate argument, and its default "
              "is the pitfall of this notebook.",
              "searchable.add_faiss_index('embeddings', index_name='hnsw', string_factory='HNSW32', "
              "metric_type=...), then dataset_search(..., index_name='hnsw') and t.recall_at_k against exact_ids."),
             dataset_hnsw,
             wrong=("searchable.add_faiss_index('embeddings', index_name='hnsw', string_factory='HNSW32')\n"
                    "_, hnsw_ids = dataset_search(searchable, query_embeddings, k=10, index_name='hnsw')\n"
                    "answer_dataset_recall = t.recall_at_k(hnsw_ids, exact_ids)",
                    "answer_dataset_recall = t.precision_at_k(course.candidate_labels[hnsw_ids], query_labels)",
                    "answer_dataset_recall = 100 * answer_dataset_recall")),
    Exercise(3, 2, "What HNSW's links cost",
             ("The prediction: one float32 vector, plus the links of the bottom layer, each a 4-byte integer.",
              "Up to 2 x M links per node on the bottom layer, with M=16 here; the measurement is "
              "hnsw.memory_bytes()['faiss_index'] over len(hnsw)."),
             link_memory, predict=True,
             wrong=("answer_measured = answer_predicted",
                    "answer_measured = hnsw.memory_bytes()['faiss_index']",
                    "answer_predicted = 768 * 4 + 16 * 4")),
    Exercise(4, 3, "How long a shortlist binary codes need",
             ("Build the index once; n_rerank is read at search time, so change it and search again.",
              "lsh_codes = t.FaissLSHIndex(n_bits=256, n_rerank=20).add(pool); for each length from the shortest: "
              "lsh_codes.n_rerank = length, recall@10 of lsh_codes.search(pool_queries, 10)[1] against "
              "pool_truth[1]; stop at the first >= 0.9."),
             rerank_length,
             wrong=("for answer_rerank in (20, 50, 100, 200, 500):\n"
                    "    lsh_codes.n_rerank = answer_rerank\n"
                    "    if t.recall_at_k(lsh_codes.search(pool_queries, 10)[1], pool_truth[0]) >= 0.9:\n"
                    "        break",
                    "for answer_rerank in (20, 50, 100, 200, 500):\n"
                    "    lsh_codes.n_rerank = answer_rerank\n"
                    "    if t.recall_at_k(lsh_codes.search(pool_queries, 10)[1], pool_truth[1]) >= 0.95:\n"
                    "        break")),
]
