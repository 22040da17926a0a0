"""Notebook 05, LSH in practice: ranking by votes, and what an index stores per image.
"""

from __future__ import annotations

import warnings

import numpy as np

from ...cosine_search import CosineIndex
from ...evaluation import recall_at_k
from ...index_base import ShortResultWarning
from ...tuning import lsh_memory_bytes
from ..exercise_book import Exercise
from ..exercises import Check, check_value, known_mistake

MEMORY_SETTING = {"n_tables": 20, "dim": 768, "n_bits": 16}  # exercise 2


def _exact_top10(embeddings, queries) -> np.ndarray:
    return CosineIndex().add(embeddings).search(queries, 10)[1]


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
]
