"""Notebook 12, past one machine: the distance threshold of a cosine, the pairs brute force
compares, the S-curve at the weakest planted copy (predicted, then measured with the
near-duplicate finder), and LSH settings that meet a recall and a budget.

Exercise 4 compares with every pair by brute force, which takes seconds at 10,000 embeddings;
the result is kept for the last collection checked, so checking again is quick.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ...neardup import Pairs, brute_force_pairs, compare_pairs, near_duplicate_pairs
from ...random_projection import any_table_collision_probability
from ..exercise_book import Exercise
from ..exercises import Check, check_value
from ..exercises import one_number as _number
from ..exercises import wrong as _wrong

COSINE = 0.95  # exercise 1
N_IMAGES = 10**6  # exercise 2
WEAKEST, N_BITS, N_TABLES = 0.92, 20, 32  # exercise 3
THRESHOLD, MIN_RECALL, MAX_SHARE = 0.9, 0.97, 0.005  # exercise 4


def join_distance(answer, **_) -> Check:
    truth, value = np.sqrt(2 - 2 * COSINE), _number(answer)
    if value is not None and np.isclose(value, truth**2):
        return _wrong("that is the squared distance; approxSimilarityJoin takes the distance itself")
    if value is not None and np.isclose(value, 1 - COSINE):
        return _wrong("that is the cosine distance 1 - cos; the join measures Euclidean distance")
    verdict = check_value(answer, truth, atol=1e-6)
    return verdict if verdict else _wrong(verdict.message + "; the join compares Euclidean distances of unit vectors")


def pair_count(answer, **_) -> Check:
    truth, value = N_IMAGES * (N_IMAGES - 1) / 2, _number(answer)
    if value is not None and np.isclose(value, N_IMAGES**2, rtol=1e-12):
        return _wrong("that pairs every image with every image, itself included, and counts (a, b) and (b, a)")
    if value is not None and np.isclose(value, 2 * truth, rtol=1e-12):
        return _wrong("that counts every pair twice, as (a, b) and as (b, a)")
    if value is not None and np.isclose(value, N_IMAGES * (N_IMAGES + 1) / 2, rtol=1e-12):
        return _wrong("that pairs every image with itself too")
    verdict = check_value(answer, truth, atol=0, rtol=1e-12)
    return verdict if verdict else _wrong(verdict.message + "; each unordered pair of different images once")


def _share_found(collection, planted, center: bool = False) -> float:
    pairs = near_duplicate_pairs(collection, THRESHOLD, n_bits=N_BITS, n_tables=N_TABLES, center=center, seed=0)
    found = set(map(tuple, pairs.as_array().tolist()))
    return float(np.mean([tuple(pair) in found for pair in np.asarray(planted).tolist()]))


def weakest_copy(predicted, measured=None, *, collection, planted, **_) -> Check:
    theory = float(any_table_collision_probability(WEAKEST, N_BITS, N_TABLES))
    if check_value(predicted, float(any_table_collision_probability(WEAKEST, N_BITS, 1)), atol=1e-4):
        return _wrong("the prediction is for one table; a pair is found if it meets in at least one of 32")
    verdict = check_value(predicted, theory, atol=1e-4)
    if not verdict:
        return _wrong("the prediction does not match the formula for 32 tables of 20 bits: " + verdict.message)
    if measured is None:
        return _wrong("the prediction is right; now measure it (answer_measured)")
    if collection is None or planted is None or np.ndim(planted) != 2 or np.shape(planted)[1] != 2:
        return _wrong("pass the collection and its planted pairs from plant_near_copies (copies_092, pairs_092)")
    vectors = np.asarray(collection, dtype=np.float32)
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    planted = np.asarray(planted)
    cosines = np.sum(vectors[planted[:, 0]] * vectors[planted[:, 1]], axis=1)
    if not np.allclose(cosines, WEAKEST, atol=1e-3):
        return _wrong(f"the planted pairs are not all at cosine {WEAKEST} (from {cosines.min():.3f} to "
                      f"{cosines.max():.3f}): plant them with cosine_range=({WEAKEST}, {WEAKEST})")
    truth, value = _share_found(vectors, planted), _number(measured)
    # A share of the planted pairs is a multiple of 1 / len(planted); the formula's value is not.
    if value is not None and value == float(predicted) and truth != theory:
        return _wrong("your measurement equals your prediction exactly: run the near-duplicate finder and "
                      "count the planted pairs it returns instead of copying the formula")
    verdict = check_value(measured, truth, atol=1e-9)
    if not verdict and value is not None and np.isclose(value, _share_found(vectors, planted, center=True), atol=1e-9):
        return _wrong("that hashes centred embeddings (center=True): centring changes the cosines the hyperplanes "
                      f"see, and the formula is for the cosine {WEAKEST} itself; hash them as they are")
    if not verdict:
        return _wrong("the prediction is right, the measurement is off: " + verdict.message + "; the share of "
                      "the planted pairs among the pairs near_duplicate_pairs returns (20 bits, 32 tables, seed 0)")
    spread = np.sqrt(theory * (1 - theory) / len(planted))
    return Check("right", "answer", f"right ({abs(truth - theory) / spread:.1f} standard errors from the prediction)")


_REFERENCE: dict = {}  # the brute-force pairs of the last collection checked, by a digest of its bytes


def _brute_force(collection) -> Pairs:
    vectors = np.ascontiguousarray(collection, dtype=np.float32)
    key = hashlib.blake2b(vectors.tobytes(), digest_size=16).hexdigest()
    if key not in _REFERENCE:
        _REFERENCE.clear()
        _REFERENCE[key] = brute_force_pairs(vectors, THRESHOLD)
    return _REFERENCE[key]


def lsh_settings(answer, *, collection, **_) -> Check:
    if not isinstance(answer, dict):
        return _wrong("give the settings as a dict of near_duplicate_pairs' keywords, e.g. "
                      "{'n_bits': ..., 'n_tables': ..., 'center': True}")
    allowed = {"n_bits", "n_tables", "center", "seed"}
    if set(answer) - allowed:
        return _wrong(f"settings can be {sorted(allowed)}; got {sorted(set(answer) - allowed)} too")
    try:
        pairs = near_duplicate_pairs(collection, THRESHOLD, **answer)
    except ValueError as error:
        return _wrong(f"near_duplicate_pairs refused these settings: {error}")
    recall = compare_pairs(pairs, _brute_force(collection))["recall"]
    share = pairs.stats["share_compared"]
    problems = []
    if recall < MIN_RECALL:
        problems.append(f"recall {recall:.3f} against brute force, below {MIN_RECALL}: more tables raise it")
    if share >= MAX_SHARE:
        problems.append(f"verifies {share:.2%} of all pairs, not under {MAX_SHARE:.1%}: more bits per table "
                        "make buckets smaller")
    if problems:
        return _wrong("; ".join(problems))
    return Check("right", "answer", f"right (recall {recall:.3f}, {share:.3%} of the pairs verified)")


EXERCISES = [
    Exercise(1, 1, "The distance threshold for cosine 0.95",
             ("approxSimilarityJoin thresholds a Euclidean distance; the vectors are unit length.",
              "Expand |a - b|² for unit vectors: it is a simple function of cos(a, b). Then take the root."),
             join_distance, wrong=("answer_distance = 2 - 2 * 0.95", "answer_distance = 1 - 0.95")),
    Exercise(2, 1, "Pairs among a million images",
             ("Each image is compared with every other one, and each pair only once.",
              "n images give n choices for the first and n - 1 for the second; (a, b) and (b, a) are one pair."),
             pair_count, wrong=("answer_pairs = 10**6 * 10**6", "answer_pairs = 2 * answer_pairs")),
    Exercise(3, 3, "The weakest planted copy",
             ("The prediction is the S-curve of 32 tables of 20 bits at cosine 0.92; the measurement plants "
              "pairs at exactly that cosine and counts how many the finder returns.",
              "t.any_table_collision_probability(0.92, n_bits=20, n_tables=32); then plant_near_copies(base, "
              "500, cosine_range=(0.92, 0.92), seed=1), near_duplicate_pairs(..., 0.9, n_bits=20, n_tables=32), "
              "and the share of the planted pairs among its pairs."),
             weakest_copy, predict=True,
             wrong=("answer_measured = answer_predicted",
                    "answer_predicted = float(t.table_collision_probability(0.92, 20))",
                    "found_092 = set(map(tuple, near_duplicate_pairs(copies_092, 0.9, n_bits=20, n_tables=32, "
                    "center=True).as_array().tolist()))\n"
                    "answer_measured = float(np.mean([tuple(pair) in found_092 for pair in pairs_092.tolist()]))")),
    Exercise(4, 2, "Settings that meet a recall and a budget",
             ("Two knobs pull in different directions: tables add chances to meet, bits make buckets smaller.",
              "Start from section 2's settings (20 bits, 32 tables, centred); raise n_tables until recall "
              "against `reference` reaches 0.97, and watch pairs.stats['share_compared']."),
             lsh_settings,
             wrong=("answer_settings = {'n_bits': 20, 'n_tables': 32, 'center': True}",
                    "answer_settings = {'n_bits': 12, 'n_tables': 16, 'center': True}")),
]
