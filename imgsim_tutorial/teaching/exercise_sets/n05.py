"""Notebook 05, LSH in practice: ranking by votes, what an index stores per image, and the share a
second filter (``min_collisions``) leaves to re-rank, predicted, then measured.
"""

from __future__ import annotations

import warnings

import numpy as np

from ...evaluation import recall_at_k
from ...hash_tables import LSHIndex
from ...index_base import ShortResultWarning
from ...tuning import lsh_memory_bytes, predict_lsh, similarity_profile
from ..exercise_book import Exercise
from ..exercises import Check, check_value, known_mistake
from ..exercises import exact_top_ids as _exact_top10
from ..exercises import wrong as _wrong

MEMORY_SETTING = {"n_tables": 20, "dim": 768, "n_bits": 16}  # exercise 2
# Exercise 3: the lesson's setting with the second filter, and the profile the prediction reads.
FILTER_SETTING = {"n_bits": 11, "n_tables": 40, "n_probes": 9, "center": True, "min_collisions": 2}
PROFILE_SETTING = {"k": 10, "n_sample_queries": 100, "seed": 0}
FILTER_TEXT = "LSHIndex(" + ", ".join(f"{key}={value}" for key, value in {**FILTER_SETTING, "seed": 0}.items()) + ")"


def _top10_lists(rows) -> np.ndarray:
    """First 10 ids of each list, padded with -1 (never found) when a list is shorter."""
    return np.array([np.pad(np.asarray(row)[:10], (0, 10), constant_values=-1)[:10] for row in rows])


def votes_recall(answer, *, index, embeddings, queries, **_) -> Check:
    true_ids = _exact_top10(embeddings, queries)
    truth = recall_at_k(_top10_lists(index.collision_counts(query)[0] for query in queries), true_ids)
    verdict = check_value(answer, truth, name="recall@10", atol=1e-6)
    if verdict:
        return verdict
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortResultWarning)
        by_cosine = recall_at_k(index.search(queries, 10)[1], true_ids)
    unranked = recall_at_k(_top10_lists(index.candidates(query) for query in queries), true_ids)
    return known_mistake(answer, [
        (by_cosine, "that is the recall of index.search, which re-ranks by cosine; rank by the votes alone"),
        (unranked, "index.candidates lists the ids in id order, unranked; collision_counts ranks them by votes"),
        (truth * 100, "this looks like a percentage: give a fraction between 0 and 1"),
    ], verdict, atol=1e-6)


def bytes_per_image(answer, **_) -> Check:
    parts = lsh_memory_bytes(1, **MEMORY_SETTING)
    packed_codes = MEMORY_SETTING["n_tables"] * MEMORY_SETTING["n_bits"] / 8  # what "bits are cheap" suggests
    truth = parts["vectors"] + parts["ids"] + parts["codes"] + parts["tables"]
    verdict = check_value(answer, truth, name="bytes per image", atol=0.5, rtol=0)
    if verdict:
        return verdict
    return known_mistake(answer, [
        (truth - parts["codes"] - parts["tables"] + packed_codes,
         "counted the codes as packed bits; every table stores, per item, a uint64 code and an int64 id, and "
         "the index keeps each item's codes once more"),
        (truth + parts["vectors"], "the vectors are float32: 4 bytes per number, not 8"),
        (truth - parts["vectors"], "the float vectors are kept too, for the exact re-rank"),
        (truth - parts["codes"], "counted the sorted tables, but not each item's codes kept in insertion order"),
    ], verdict, atol=0.5, rtol=0)


def _predicted_share(profile, n: int, **changes) -> float:
    return predict_lsh(profile, n, **{**FILTER_SETTING, **changes})["fraction_scanned"]


def _prediction_mistake(predicted, profile, n: int) -> str | None:
    """What a wrong prediction most likely did, or None."""
    mistakes = [({"min_collisions": 1}, "that is the share without the filter (min_collisions=1)"),
                ({"center": False}, "that is the share of an uncentred index: pass center=True"),
                ({"n_probes": 1}, "that leaves out the probes: pass n_probes=9")]
    for changes, why in mistakes:
        if check_value(predicted, _predicted_share(profile, n, **changes), rtol=1e-6, atol=0):
            return why
    return None


def filtered_share(predicted, measured=None, *, index, embeddings, queries, **_) -> Check:
    profile = similarity_profile(embeddings, **PROFILE_SETTING)
    theory = _predicted_share(profile, len(embeddings))
    verdict = check_value(predicted, theory, name="prediction", rtol=1e-6, atol=0)
    if not verdict:
        why = _prediction_mistake(predicted, profile, len(embeddings))
        return _wrong(f"the prediction is not predict_lsh's fraction_scanned for {FILTER_TEXT} on the profile "
                      "of pool (k=10, n_sample_queries=100, seed=0): " + (why or verdict.message))
    if measured is None:
        return _wrong("the prediction is right; now build the index and measure it (answer_measured)")
    wanted = {**FILTER_SETTING, "seed": 0}
    if not isinstance(index, LSHIndex) or any(getattr(index, key, None) != value for key, value in wanted.items()) \
            or len(index) != len(embeddings):
        return _wrong(f"pass the index you measured as index=: {FILTER_TEXT} built on all {len(embeddings):,} "
                      f"vectors of pool; got {index!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortResultWarning)
        found = index.search_with_stats(queries, 10)[2]["n_candidates"]
    truth = float(found.mean() / len(embeddings))
    if check_value(measured, predicted, atol=0, rtol=1e-12) and not check_value(truth, theory, atol=1e-9):
        return _wrong("your measurement equals your prediction exactly: search pool_queries with the index and "
                      "average its n_candidates instead of copying the prediction")
    verdict = check_value(measured, truth, name="measurement", rtol=1e-6, atol=0)
    if verdict:
        return Check("right", "answer", f"right (measured {truth / theory:.2f} times the prediction)")
    return known_mistake(measured, [
        (found.mean(), "that is a number of candidates per query; as a share, divide by the size of pool"),
        (truth * 100, "that looks like a percentage: give a fraction between 0 and 1"),
    ], _wrong("the prediction is right, the measurement is off: " + verdict.message
              + "; the mean of search_with_stats(pool_queries, 10)[2]['n_candidates'] over len(pool)"), rtol=1e-6)


EXERCISES = [
    Exercise(1, 2, "Ranking by votes alone",
             ("index.collision_counts(query) gives the ids ranked by the share of tables they share with the "
              "query; keep the first 10 of each query.",
              "Some queries have fewer than 10 candidates: pad their lists with -1 (np.pad) so that every row has "
              "10 ids, then t.recall_at_k(lists, exact_ids)."),
             votes_recall,
             wrong=("answer_votes_recall = t.recall_at_k(index.search(query_embeddings, 10)[1], exact_ids)",
                    "answer_votes_recall = t.recall_at_k(np.array([np.pad(index.candidates(q)[:10], (0, 10), "
                    "constant_values=-1)[:10] for q in query_embeddings]), exact_ids)",
                    "answer_votes_recall = answer_votes_recall * 100")),
    Exercise(2, 1, "Bytes per image of a large index",
             ("Add up what grows with every image: its vector, its id, and what each table keeps for it.",
              "Read 'What it costs to store' again: float32 numbers take 4 bytes; per table an item costs a "
              "uint64 code and an int64 id in the sorted table, and its code once more in insertion order."),
             bytes_per_image,
             wrong=("answer_bytes = 768 * 4 + 8 + 20 * 16 / 8",
                    "answer_bytes = 768 * 8 + 8 + 20 * 24",
                    "answer_bytes = 8 + 20 * 24")),
    Exercise(3, 3, "The second filter: the share left to re-rank, predicted, then measured",
             ("The prediction needs no index: tuning.predict_lsh takes the profile, N and the setting "
              "(min_collisions and center included) and returns a dict with the share scanned.",
              "pool_profile = tuning.similarity_profile(pool, k=10, n_sample_queries=100, seed=0); "
              "tuning.predict_lsh(pool_profile, len(pool), 11, 40, n_probes=9, min_collisions=2, "
              "center=True)['fraction_scanned']; then build that LSHIndex (seed=0) on pool and average "
              "search_with_stats(pool_queries, 10)[2]['n_candidates'] over len(pool)."),
             filtered_share, predict=True,
             wrong=("answer_measured = answer_predicted",
                    "answer_predicted = tuning.predict_lsh(pool_profile, len(pool), 11, 40, n_probes=9, "
                    "center=True)['fraction_scanned']",
                    "answer_measured = answer_measured * len(pool)")),
]
