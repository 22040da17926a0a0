"""Notebook 11, the search app: its exact method by hand, the best score of an image that is no
leaf, queries left short of k by a narrow LSH table, and a bucket's size predicted, then measured."""

from __future__ import annotations

import numpy as np

from ...cosine_search import CosineIndex
from ...hash_tables import LSHIndex
from ...random_projection import bit_agreement_probability
from ...vectors import normalize
from ..exercise_book import Exercise
from ..exercises import Check, check_value
from ..exercises import wrong as _wrong

QUERY, TOP = 3, 5  # exercise 1: the 5 nearest of query 3
BUCKET_BITS, SEEDS = 16, range(10)  # exercise 4: one table of 16 bits, averaged over 10 draws


def _numbers(answer, count: int):
    """``answer`` as ``count`` floats, or None when it is not that many numbers."""
    if np.ndim(answer) != 1 or len(answer) != count:
        return None
    try:
        values = np.array([float(value) for value in answer])
    except (TypeError, ValueError):
        return None
    return None if any(isinstance(value, (bool, str)) for value in answer) else values


def top_five(answer, *, candidates, queries, **_) -> Check:
    all_ids = CosineIndex().add(candidates).search(queries, TOP + 1)[1]
    truth = all_ids[QUERY, :TOP]
    if np.shape(answer) == (1, TOP):
        return _wrong("give a flat list of 5 ids: search returns one row per query, shape (1, 5); take row 0")
    values = _numbers(answer, TOP)
    if values is None or not np.all(values == np.round(values)):
        return _wrong(f"give {TOP} candidate ids (integers), best first")
    values = values.astype(np.int64)
    if np.array_equal(values, truth):
        return Check("right", "answer", f"right ({TOP} ids, best first)")
    if set(values) == set(truth):
        return _wrong("the right five, in the wrong order: best (highest cosine) first")
    if np.array_equal(values, all_ids[QUERY, 1:TOP + 1]):
        return _wrong("you left out the nearest: the query is not one of the candidates, so its first result "
                      "is a real neighbour, not itself")
    if any(np.array_equal(values, row[:TOP]) for row in all_ids):
        return _wrong("these are the five nearest of another query: query 3 is course.query_embeddings[3]")
    return _wrong(f"{len(set(values) - set(truth))} of your {TOP} ids are not among the {TOP} nearest of query 3")


def grey_scores(answer, *, grey_vector, candidates, queries, **_) -> Check:
    index = CosineIndex().add(candidates)
    scores, ids = index.search(grey_vector, 1)
    truth = np.array([scores[0, 0], np.median(index.search(queries, 1)[0][:, 0])])
    values = _numbers(answer, 2)
    if values is None:
        return _wrong("give two numbers: [the grey image's best score, the median best score of the leaf queries]")
    if np.allclose(values, truth, atol=1e-4):
        lower = "lower than" if truth[0] < truth[1] else "not lower than"
        return Check("right", "answer", f"right (the grey image's best match scores {lower} a typical leaf's)")
    if np.allclose(values, truth[::-1], atol=1e-4):
        return _wrong("swapped: give [grey image, leaf queries]")
    problems = []
    if not np.isclose(values[0], truth[0], atol=1e-4):
        if np.isclose(values[0], ids[0, 0]):
            problems.append("the first number is an id: search returns (scores, ids)")
        elif np.isclose(values[0], float(np.mean(normalize(candidates) @ normalize(grey_vector)[0])), atol=1e-4):
            problems.append("the first number averages over all candidates; the question asks for the best one")
        else:
            problems.append(f"the grey image's score is off (got {values[0]:.4g}): its best cosine over the candidates")
    if not np.isclose(values[1], truth[1], atol=1e-4):
        problems.append(f"the leaf queries' number is off (got {values[1]:.4g}): the median, over the queries, "
                        "of each query's best score")
    return _wrong("; ".join(problems))


def _short_queries(candidates, queries, n_tables: int, at_most: bool = False) -> int:
    found = LSHIndex(n_bits=16, n_tables=n_tables, seed=0).add(candidates).search_with_stats(queries, 6)[2]
    return int((found["n_candidates"] <= 6 if at_most else found["n_candidates"] < 6).sum())


def short_lists(answer, *, candidates, queries, **_) -> Check:
    truth = np.array([_short_queries(candidates, queries, n_tables) for n_tables in (1, 8)])
    values = _numbers(answer, 2)
    if values is None:
        return _wrong("give two counts: [with 1 table, with 8 tables]")
    if np.array_equal(values, truth):
        return Check("right", "answer", "right")
    if np.array_equal(values, truth[::-1]):
        return _wrong("swapped: give [with 1 table, with 8 tables]")
    if np.allclose(values * len(queries), truth):
        return _wrong("those are shares of the queries; the question asks how many queries")
    problems = []
    for position, n_tables in enumerate((1, 8)):
        if values[position] == truth[position]:
            continue
        if values[position] == _short_queries(candidates, queries, n_tables, at_most=True):
            problems.append(f"with {n_tables} table{'s' * (n_tables > 1)} you counted 6 candidates as short too: "
                            "fewer than 6 means < 6")
        else:
            problems.append(f"the count with {n_tables} table{'s' * (n_tables > 1)} is off (got {values[position]:g})")
    return _wrong("; ".join(problems))


def _mean_bucket(candidates, queries, seed: int) -> float:
    """Candidates in a query's bucket of one 16-bit table, averaged over the queries."""
    index = LSHIndex(n_bits=BUCKET_BITS, n_tables=1, seed=seed).add(candidates)
    return float(index.search_with_stats(queries, 6)[2]["n_candidates"].mean())


def bucket_size(predicted, measured=None, *, candidates, queries, **_) -> Check:
    cosines = np.clip(normalize(queries).astype(np.float64) @ normalize(candidates).astype(np.float64).T, -1, 1)
    theory = float((bit_agreement_probability(cosines) ** BUCKET_BITS).sum(axis=1).mean())
    if check_value(predicted, len(candidates) / 2**BUCKET_BITS, rtol=1e-3):
        return _wrong("that assumes the candidates spread evenly over all 2**16 codes; they crowd together: "
                      "use each candidate's cosine with the query")
    verdict = check_value(predicted, theory, atol=0, rtol=1e-3)
    if not verdict:
        return _wrong("the prediction does not follow from the formula: " + verdict.message)
    if measured is None:
        return _wrong("the prediction is right; now measure it (answer_measured)")
    draws = [_mean_bucket(candidates, queries, seed) for seed in SEEDS]
    truth = float(np.mean(draws))
    # A measurement is a mean of whole counts over 10 draws x the queries; the formula is not.
    if np.ndim(measured) == 0 and np.isclose(measured, predicted, atol=1e-12, rtol=0) and truth != theory:
        return _wrong("your measurement equals your prediction exactly: build the indexes and count instead "
                      "of copying the formula")
    if np.ndim(measured) == 0 and np.isclose(measured, draws[0], atol=1e-9) and draws[0] != truth:
        return _wrong("that is one draw of the hyperplanes (seed 0); average over seeds 0 to 9")
    verdict = check_value(measured, truth, atol=1e-9)
    if not verdict:
        return _wrong("the prediction is right, the measurement is off: " + verdict.message + "; for seeds 0 "
                      "to 9, the mean n_candidates over all queries, then the mean over the seeds")
    return Check("right", "answer", f"right (10 draws average {abs(truth - theory) / theory:.0%} from the "
                                    f"prediction; single draws range from {min(draws):.0f} to {max(draws):.0f})")


EXERCISES = [
    Exercise(1, 1, "The app's exact method, by hand",
             ("The app's 'exact' method is a CosineIndex over the candidates.",
              "t.CosineIndex().add(course.candidate_embeddings).search(one query, k=5) returns (scores, ids), "
              "each of shape (1, 5)."),
             top_five,
             wrong=("answer_top5 = answer_top5[::-1]",
                    "answer_top5 = t.CosineIndex().add(course.candidate_embeddings).search("
                    "course.query_embeddings[3], k=6)[1][0][1:]",
                    "answer_top5 = t.CosineIndex().add(course.candidate_embeddings).search("
                    "course.query_embeddings[2], k=5)[1][0]")),
    Exercise(2, 1, "The best score of an image that is no leaf",
             ("Search always returns the nearest candidates; only the score says how near they are.",
              "search(grey_vector, k=1) returns (scores, ids) of shape (1, 1); do the same for all query "
              "embeddings and take np.median of their best scores."),
             grey_scores,
             wrong=("answer_scores = answer_scores[::-1]",
                    "answer_scores = [float(t.CosineIndex().add(course.candidate_embeddings).search(grey_vector, "
                    "k=1)[1][0, 0]), answer_scores[1]]",
                    "answer_scores = [float(np.mean(course.candidate_embeddings @ (grey_vector[0] / "
                    "np.linalg.norm(grey_vector[0])))), answer_scores[1]]")),
    Exercise(3, 2, "Queries left short of k by one narrow table",
             ("search_with_stats returns, for every query, how many candidates it scored.",
              "t.LSHIndex(n_bits=16, n_tables=L, seed=0).add(...).search_with_stats(queries, k=6)[2]"
              "['n_candidates'] < 6, summed, for L = 1 and L = 8."),
             short_lists,
             wrong=("answer_short = answer_short[::-1]",
                    "answer_short = [count / len(course.query_embeddings) for count in answer_short]")),
    Exercise(4, 3, "How full is a query's bucket?",
             ("The prediction adds up, over all candidates, the chance that each one lands in the query's "
              "bucket; the measurement counts them, for several draws of the hyperplanes.",
              "A candidate at cosine s shares all 16 bits with p(s) ** 16 (t.table_collision_probability); sum "
              "over the candidates, average over the queries. Measure with LSHIndex(n_bits=16, n_tables=1, "
              "seed=s) for s in 0..9 and search_with_stats(...)[2]['n_candidates']."),
             bucket_size, predict=True,
             wrong=("answer_measured = answer_predicted",
                    "answer_predicted = len(course.candidate_embeddings) / 2**16",
                    "answer_measured = float(t.LSHIndex(n_bits=16, n_tables=1, seed=0).add("
                    "course.candidate_embeddings).search_with_stats(course.query_embeddings, k=6)[2]"
                    "['n_candidates'].mean())")),
]
