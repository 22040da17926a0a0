"""Notebook 04, hash tables: the fewest tables for a recall target, the recall of one setting
predicted, then measured, and the union of a query's buckets against the sum of their sizes.
"""

from __future__ import annotations

import warnings

import numpy as np

from ...evaluation import recall_at_k
from ...hash_tables import LSHIndex
from ...index_base import ShortResultWarning
from ...tuning import predict_lsh
from ..exercise_book import Exercise
from ..exercises import RIGHT, WRONG, Check, check_value, known_mistake
from ..exercises import exact_top_ids as _exact_top10

TARGET, TABLE_BITS = 0.95, 8  # exercise 1: recall@10 wanted with tables of 8 bits
PREDICT_BITS, PREDICT_TABLES = 12, 8  # exercise 2
UNION_QUERY = 0  # exercise 3: the query whose buckets are looked up by hand
MAX_TABLES = 256  # more than any exercise needs; keeps a check fast


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


def _codes(vectors, hyperplanes) -> np.ndarray:
    """Bucket code of every vector in every table, as the lesson's dicts key them: (n_tables, n)."""
    place_values = 2 ** np.arange(hyperplanes.shape[1])
    return np.stack([(vectors @ planes.T > 0) @ place_values for planes in hyperplanes])


def _bucket_counts(hyperplanes, embeddings, query) -> dict:
    """The query's own buckets (no probe): sum of their sizes, distinct ids; and with one probe per table."""
    codes, query_codes = _codes(embeddings, hyperplanes), _codes(query[None], hyperplanes)[:, 0]
    own = codes == query_codes[:, None]  # (n_tables, n)
    margins = hyperplanes @ query  # (n_tables, n_bits)
    probe_codes = query_codes ^ (1 << np.argmin(np.abs(margins), axis=1))
    probed = own | (codes == probe_codes[:, None])
    return {"sum": int(own.sum()), "distinct": int(own.any(axis=0).sum()), "probed": int(probed.any(axis=0).sum()),
            "table 0": int(own[0].sum())}


def union_not_sum(answer, *, hyperplanes, embeddings, queries, **_) -> Check:
    hyperplanes = np.asarray(hyperplanes)
    if hyperplanes.ndim != 3 or hyperplanes.shape[2] != np.shape(embeddings)[1]:
        return Check(WRONG, "buckets", f"pass the lesson's hyperplanes, (n_tables, n_bits, d); got shape "
                     f"{hyperplanes.shape}")
    values = [_whole_number(value) for value in answer] if np.ndim(answer) == 1 else []
    if len(values) != 2 or None in values:
        return Check(WRONG, "buckets", f"got {answer!r}; give two whole numbers: [sum of the bucket sizes, "
                     "distinct ids]")
    counts = _bucket_counts(hyperplanes, np.asarray(embeddings), np.asarray(queries)[UNION_QUERY])
    if values == [counts["sum"], counts["distinct"]]:
        return Check(RIGHT, "buckets", f"right ({counts['sum'] - counts['distinct']} look-ups found an id "
                     "another table had found already)")
    if values == [counts["distinct"], counts["sum"]]:
        return Check(WRONG, "buckets", "swapped: give [sum of the bucket sizes, distinct ids]")
    problems = []
    if values[0] != counts["sum"]:
        problems.append("the sum is off" + (": that is table 0's bucket alone; add the query's bucket of every "
                                            "table" if values[0] == counts["table 0"] else ""))
    if values[1] == counts["probed"] and counts["probed"] != counts["distinct"]:
        problems.append("the distinct ids include the probed buckets; look up the query's own code only")
    elif values[1] != counts["distinct"]:
        problems.append("the distinct ids are off" + (" (the sum again? put the ids in a set)"
                                                      if values[1] == counts["sum"] else ""))
    return Check(WRONG, "buckets", "; ".join(problems))


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
    Exercise(3, 2, "Union, not sum: query 0's own buckets by hand",
             ("Hash query 0 with each table's hyperplanes, as build_tables hashes the items, and look its code "
              "up in that table's dict; no probe.",
              "code = int((hyperplanes[i] @ query > 0) @ 2 ** np.arange(8)); tables[i].get(code, []) is the "
              "bucket; add up len() of the 10 buckets, and put all their ids into one set()."),
             union_not_sum,
             wrong=("answer_buckets = answer_buckets[::-1]",
                    "answer_buckets = [answer_buckets[0], len(reference.candidates(query_embeddings[0]))]",
                    "answer_buckets = [answer_buckets[0], answer_buckets[0]]")),
]
