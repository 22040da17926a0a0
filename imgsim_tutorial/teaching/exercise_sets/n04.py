"""Notebook 04, hash tables: the fewest tables for a recall target, and the recall of one setting
predicted, then measured.
"""

from __future__ import annotations

import warnings

import numpy as np

from ...cosine_search import CosineIndex
from ...evaluation import recall_at_k
from ...hash_tables import LSHIndex
from ...index_base import ShortResultWarning
from ...tuning import predict_lsh
from ..exercise_book import Exercise
from ..exercises import RIGHT, WRONG, Check, check_value, known_mistake

TARGET, TABLE_BITS = 0.95, 8  # exercise 1: recall@10 wanted with tables of 8 bits
PREDICT_BITS, PREDICT_TABLES = 12, 8  # exercise 2
MAX_TABLES = 256  # more than any exercise needs; keeps a check fast


def _exact_top10(embeddings, queries) -> np.ndarray:
    return CosineIndex().add(embeddings).search(queries, 10)[1]


def lsh_recall(embeddings, queries, true_ids, **settings) -> float:
    """recall@10 of ``LSHIndex(**settings)`` (seed 0 unless given) against ``true_ids``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortResultWarning)  # a short result shows as lower recall
        found = LSHIndex(**settings).add(embeddings).search(queries, 10)[1]
    return recall_at_k(found, true_ids)


def _whole_number(answer) -> int | None:
    if isinstance(answer, (bool, np.bool_)) or not isinstance(answer, (int, float, np.integer, np.floating)):
        return None
    return int(answer) if float(answer).is_integer() else None


def smallest_tables(answer, *, embeddings, queries, **_) -> Check:
    n_tables = _whole_number(answer)
    if n_tables is None:
        return Check(WRONG, "n_tables", f"got {answer!r}; expected a whole number of tables")
    if not 1 <= n_tables <= MAX_TABLES:
        return Check(WRONG, "n_tables", f"got {n_tables}; expected a number of tables from 1 to {MAX_TABLES}")
    true_ids = _exact_top10(embeddings, queries)
    recall = lsh_recall(embeddings, queries, true_ids, n_bits=TABLE_BITS, n_tables=n_tables)
    if recall < TARGET:
        return Check(WRONG, "n_tables", f"with {n_tables} tables recall@10 is {recall:.3f}, below {TARGET}")
    if n_tables > 1 and lsh_recall(embeddings, queries, true_ids, n_bits=TABLE_BITS, n_tables=n_tables - 1) >= TARGET:
        return Check(WRONG, "n_tables", f"{n_tables} tables reach {TARGET}, but so do fewer: find the smallest")
    return Check(RIGHT, "n_tables", f"right (recall@10 {recall:.3f})")


def predicted_recall(predicted, measured=None, *, profile, embeddings, queries, **_) -> Check:
    n = len(embeddings)
    theory = predict_lsh(profile, n, PREDICT_BITS, PREDICT_TABLES)["predicted_recall"]
    verdict = check_value(predicted, theory, name="prediction", atol=1e-4)
    if not verdict:
        otherwise = Check(WRONG, "prediction", "the prediction is not predict_lsh's for 12 bits and 8 tables on "
                          "the course's images: " + verdict.message)
        return known_mistake(predicted, [
            (predict_lsh(profile, n, PREDICT_TABLES, PREDICT_BITS)["predicted_recall"],
             "n_bits and n_tables are swapped: predict_lsh(profile, n, n_bits, n_tables)"),
        ], otherwise, atol=1e-4)
    if measured is None:
        return Check(WRONG, "measurement", "the prediction is right; now measure it (answer_measured)")
    # A recall over nq * 10 true neighbours is a multiple of 1 / (nq * 10); the formula's value is not.
    if check_value(measured, predicted, atol=1e-9, rtol=0):
        return Check(WRONG, "measurement", "your measurement equals your prediction exactly: build the index and "
                     "measure its recall instead of copying the prediction")
    true_ids = _exact_top10(embeddings, queries)
    truth = lsh_recall(embeddings, queries, true_ids, n_bits=PREDICT_BITS, n_tables=PREDICT_TABLES)
    verdict = check_value(measured, truth, name="measurement", atol=1e-6)
    if verdict:
        gap = truth - theory
        return Check(RIGHT, "prediction vs measurement", f"right (measured {gap:+.3f} from the prediction, "
                     f"{'within' if abs(gap) <= 0.05 else 'outside'} 0.05)")
    lesson_index = lsh_recall(embeddings, queries, true_ids, n_bits=8, n_tables=10)
    otherwise = Check(WRONG, "measurement", "the prediction is right, the measurement is off: " + verdict.message
                      + "; build LSHIndex(n_bits=12, n_tables=8) (seed 0, one probe) on the candidates and compare "
                      "its top-10 with the exact top-10")
    return known_mistake(measured, [
        (lesson_index, "that is the recall of the lesson's index (8 bits, 10 tables); build a new one with "
                       "12 bits and 8 tables"),
    ], otherwise, atol=1e-6)


EXERCISES = [
    Exercise(1, 2, "The fewest tables for recall@10 >= 0.95",
             ("More tables never lower recall: try 1, 2, 3, ... tables and stop at the first that is enough.",
              "In a loop, build t.LSHIndex(n_bits=8, n_tables=L).add(candidate_embeddings), search the queries "
              "with k=10 and compare with exact_ids using t.recall_at_k; break when it reaches 0.95."),
             smallest_tables,
             wrong=("answer_tables = answer_tables + 1",
                    "answer_tables = answer_tables - 1")),
    Exercise(2, 3, "The recall of one setting: predict, then measure",
             ("The prediction needs no index: the formulas and the similarity profile above give it. The "
              "measurement needs an index and the exact answers.",
              "tuning.predict_lsh(profile, n, n_bits, n_tables) returns a dict with 'predicted_recall'; then "
              "build t.LSHIndex(n_bits=12, n_tables=8) on the candidates, search with k=10, compare with "
              "exact_ids."),
             predicted_recall, predict=True,
             wrong=("answer_measured = answer_predicted",
                    "answer_predicted = tuning.predict_lsh(profile, n, 8, 12)['predicted_recall']",
                    "answer_measured = t.recall_at_k(index.search(query_embeddings, 10)[1], exact_ids)")),
]
