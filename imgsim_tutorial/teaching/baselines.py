"""The original tutorial's methods, rebuilt faithfully as baselines to measure against.

Everything here is deliberately naive; notebooks 02 and 04 and the benchmarks compare it with
the package's own indexes, on the same data, in the same run:

- :func:`naive_search` scores one query against every candidate in a Python loop, keeps the
  scores in a dict and sorts the whole dict. Correct, but slow.
- :class:`SharedPlanesLSH` repeats the tutorial's hash-table bugs: one set of hyperplanes is
  shared by all tables (so the tables are identical copies), and candidates are ranked by
  ``collision count / embedding dimension``, which ties for every match, so the order falls back
  to the order items were added. ``score="cosine"`` keeps the shared hyperplanes but re-ranks
  the bucket by true cosine: that separates the two bugs, so each one's cost can be measured.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from ..random_projection import RandomHyperplanes


def naive_search(query, candidate_vectors, candidate_ids, k: int = 5):
    """Exact top-``k`` cosine, the tutorial's way: ``(scores, ids)`` as 1-D arrays of length k."""
    query = np.asarray(query, dtype=np.float32)
    scores = {}
    for candidate_id, vector in zip(candidate_ids, candidate_vectors):
        scores[candidate_id] = float(np.dot(query, vector) / (np.linalg.norm(query) * np.linalg.norm(vector)))
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)[:k]
    return np.array([score for _, score in ranked], dtype=np.float32), np.array([i for i, _ in ranked])


class SharedPlanesLSH:
    """The tutorial's ``LSH``/``Table`` classes: ``n_tables`` tables over ONE set of hyperplanes."""

    SCORES = ("count/dim", "cosine")

    def __init__(self, *, n_bits: int = 8, n_tables: int = 10, seed: int = 0, score: str = "count/dim"):
        if score not in self.SCORES:
            raise ValueError(f"score must be one of {self.SCORES}, got {score!r}: 'count/dim' is the tutorial's, "
                             "'cosine' re-ranks the same buckets by true cosine")
        self.n_bits, self.n_tables, self.seed, self.score = n_bits, n_tables, seed, score

    def add(self, embeddings, ids=None) -> SharedPlanesLSH:
        embeddings = np.asarray(embeddings, dtype=np.float32)
        self.dim_ = embeddings.shape[1]
        self.vectors_ = dict(zip(range(len(embeddings)) if ids is None else ids,
                                 embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)))
        self.planes_ = RandomHyperplanes(self.n_bits, self.dim_, seed=self.seed)  # the bug: one set for all
        ids = range(len(embeddings)) if ids is None else ids
        codes = self.planes_.codes(embeddings)
        self.tables_ = []
        for _ in range(self.n_tables):
            table = defaultdict(list)
            for code, item in zip(codes.tolist(), ids):  # a Python loop over every item, per table
                table[code].append(item)
            self.tables_.append(table)
        return self

    def search(self, query, k: int = 5):
        """``(scores, ids)`` for one query, ranked by the tutorial's count / dim "Jaccard" score
        (or, with ``score="cosine"``, by true cosine among the same bucket members)."""
        query = np.asarray(query, dtype=np.float32).ravel()
        code = int(self.planes_.codes(query)[0])
        counts = defaultdict(int)
        for table in self.tables_:
            for item in table.get(code, []):
                counts[item] += 1
        if self.score == "cosine":
            unit = query / np.linalg.norm(query)
            scores = {item: float(self.vectors_[item] @ unit) for item in counts}
        else:
            scores = {item: count / self.dim_ for item, count in counts.items()}
        ranked = sorted(scores.items(), key=lambda pair: pair[1], reverse=True)[:k]
        return np.array([s for _, s in ranked], dtype=np.float32), np.array([i for i, _ in ranked], dtype=np.int64)

    def memory_codes_bytes(self, n_items: int) -> int:
        return int(n_items * self.n_tables * self.n_bits / 8)
