"""Notebook 02, exact cosine search: the queries the encoder gets wrong, top-k with a full sort,
AP@k by hand, a "no match" threshold, and how noise lowers the cosine, predicted, then measured."""

from __future__ import annotations

import numpy as np

from ...evaluation import average_precision
from ..exercise_book import Exercise
from ..exercises import RIGHT, WRONG, Check, check_value, known_mistake

AP_LABELS, AP_QUERY_LABEL, AP_RELEVANT = (0, 1, 1, 0, 1), 1, 4  # exercise 3's ranked list
KEEP_LEAVES, REJECT_OTHERS = 0.9, 0.8  # exercise 4's targets
SIGMA = 0.05  # exercise 5: noise per dimension


def _unit(vectors) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def bad_queries(answer, *, index, queries, labels, query_labels, **_) -> Check:
    labels, query_labels = np.asarray(labels), np.asarray(query_labels)
    _, ids = index.search(queries, 5)
    per_query = (labels[ids] == query_labels[:, None]).mean(axis=1)
    truth = set(np.flatnonzero(per_query < 0.5).tolist())
    given = np.asarray(answer)
    if given.dtype == bool:
        return Check(WRONG, "ids", "that is a True/False mask, one per query; give the ids of the queries "
                                   "where it is True (np.flatnonzero)")
    if given.ndim > 1 or (given.size and not np.issubdtype(given.dtype, np.integer)):
        return Check(WRONG, "ids", f"expected a 1-D array of query ids (integers), got {given.dtype} of shape "
                                   f"{given.shape}")
    if given.size and (given.min() < 0 or given.max() >= len(query_labels)):
        return Check(WRONG, "ids", f"query ids go from 0 to {len(query_labels) - 1}")
    mine = set(given.tolist())
    if mine == truth:
        return Check(RIGHT, "ids", "right")
    if truth and mine == {query + 1 for query in truth}:
        return Check(WRONG, "ids", "numbered from 1? Query ids, like rows of an array, start at 0")
    if mine == set(range(len(query_labels))) - truth:
        return Check(WRONG, "ids", "these are the queries that do well (precision@5 of 0.5 or more); the "
                                   "question asks for the others")
    problems = []
    extra = sorted(mine - truth)
    if extra:
        problems.append(f"{len(extra)} of your ids {'has' if len(extra) == 1 else 'have'} precision@5 of 0.5 or "
                        f"more (query {extra[0]}: {per_query[extra[0]]:.1f})")
    missing = len(truth - mine)
    if missing:
        problems.append("1 query below 0.5 is missing" if missing == 1 else f"{missing} queries below 0.5 are missing")
    return Check(WRONG, "ids", "; ".join(problems))


def top5_by_argsort(answer, *, embeddings, queries, **_) -> Check:
    scores = _unit(queries) @ _unit(embeddings).T
    ids = np.asarray(answer)
    if ids.shape != (len(queries), 5):
        hint = (": one row per query, so sort along axis=1" if ids.ndim == 2 and ids.shape[1] == len(embeddings)
                else "")
        return Check(WRONG, "ids", f"has shape {ids.shape}, expected ({len(queries)}, 5){hint}")
    if not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0 or ids.max() >= len(embeddings):
        return Check(WRONG, "ids", f"expected candidate ids, integers from 0 to {len(embeddings) - 1} "
                                   "(did you keep the sorted scores instead of the positions?)")
    if any(len(set(row)) < 5 for row in ids.tolist()):
        return Check(WRONG, "ids", "some rows repeat a candidate: each query needs 5 different ids")
    got = np.take_along_axis(scores, ids, axis=1)
    best = -np.sort(-scores, axis=1)[:, :5]
    if np.allclose(got, best, atol=1e-6):  # comparing scores lets near-ties come in either order
        return Check(RIGHT, "ids", "right")
    if np.allclose(got, np.sort(scores, axis=1)[:, :5], atol=1e-6):
        return Check(WRONG, "ids", "these are the five LEAST similar candidates: np.argsort sorts from small "
                                   "to large")
    if np.allclose(got, best[:, ::-1], atol=1e-6):
        return Check(WRONG, "ids", "the right five, but worst first: give them best first")
    wrong_rows = np.flatnonzero(~np.isclose(np.sort(got, axis=1), np.sort(best, axis=1), atol=1e-6).all(axis=1))
    if not len(wrong_rows):
        return Check(WRONG, "ids", "the right ids, in the wrong order in some rows: best first")
    return Check(WRONG, "ids", f"{len(wrong_rows)} of {len(queries)} rows hold candidates outside their "
                               f"query's best five (first: query {wrong_rows[0]})")


def ap_at_5(answer, **_) -> Check:
    relevant = np.array(AP_LABELS) == AP_QUERY_LABEL
    precision_at = np.cumsum(relevant) / np.arange(1, len(relevant) + 1)
    hits_sum = precision_at[relevant].sum()
    truth = average_precision(AP_LABELS, AP_QUERY_LABEL, n_relevant=AP_RELEVANT)
    verdict = check_value(answer, truth, name="AP@5", atol=1e-3)
    if verdict:
        return verdict
    return known_mistake(answer, [
        (hits_sum / relevant.sum(), "divided by the hits found: a list that misses relevant items would then "
                                    "score as if it had found them all; see the divisor in the formula"),
        (hits_sum / len(relevant), "divided by k; the formula divides by min(k, n_rel)"),
        (relevant.mean(), "that is precision@5; AP@5 also rewards putting the hits first"),
        (precision_at.sum() / min(len(relevant), AP_RELEVANT),
         "added precision@i at every rank; only the ranks with a hit count"),
    ], verdict, atol=1e-3)


def threshold(answer, *, leaf_scores, non_leaf_scores, **_) -> Check:
    leaf, other = np.asarray(leaf_scores, dtype=np.float64), np.asarray(non_leaf_scores, dtype=np.float64)
    # The highest threshold that still keeps enough leaves; if it rejects too few, none will do.
    highest = np.sort(leaf)[::-1][int(np.ceil(KEEP_LEAVES * len(leaf))) - 1]
    exists = (other < highest).mean() >= REJECT_OTHERS
    if isinstance(answer, (bool, np.bool_)):
        if not answer and not exists:
            return Check(RIGHT, "threshold", "right: no threshold meets both targets; the cosine alone cannot say "
                                             "'no match' here")
        return Check(WRONG, "threshold", "give a cosine as the threshold, or False if you found that none exists"
                     + ("; there is one here" if not answer else ""))
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return Check(WRONG, "threshold", f"got {answer!r}; expected one number, a cosine (or False)")
    if value > 1:
        return Check(WRONG, "threshold", f"a cosine is at most 1, got {value:g}: a percentage?")
    kept, rejected = (leaf >= value).mean(), (other < value).mean()
    if kept >= KEEP_LEAVES and rejected >= REJECT_OTHERS:
        return Check(RIGHT, "threshold", f"right (keeps {kept:.0%} of leaf queries, rejects {rejected:.0%} of "
                                         "non-leaf images)")
    return Check(WRONG, "threshold", f"your threshold keeps {kept:.1%} of the leaf queries (at least "
                                     f"{KEEP_LEAVES:.0%} wanted) and rejects {rejected:.1%} of the non-leaf images "
                                     f"(at least {REJECT_OTHERS:.0%} wanted)")


def noisy_copies(queries) -> np.ndarray:
    """The recipe of exercise 5: each query plus N(0, SIGMA^2) noise in every dimension, seed 0."""
    queries = np.asarray(queries, dtype=np.float64)
    return queries + SIGMA * np.random.default_rng(0).standard_normal(queries.shape)


def noise(predicted, measured=None, *, queries, **_) -> Check:
    dim = np.shape(queries)[1]
    theory = 1 / np.sqrt(1 + SIGMA ** 2 * dim)
    verdict = check_value(predicted, theory, name="prediction", atol=2e-3)
    if not verdict:
        otherwise = Check(WRONG, "prediction", "the prediction does not follow from |q| = 1, |e|^2 about "
                          "sigma^2 d and q . e about 0: " + verdict.message)
        return known_mistake(predicted, [
            (1 / (1 + SIGMA ** 2 * dim), "the square root is missing: |q + e| is the square root of |q + e|^2"),
            (1 / np.sqrt(1 + SIGMA * dim), "the noise adds sigma^2, not sigma, per dimension to the squared length"),
            (1 - SIGMA, "the noise is small in each dimension, but it has many dimensions: add up its squared length"),
        ], otherwise, atol=2e-3)
    if measured is None:
        return Check(WRONG, "measurement", "the prediction is right; now measure it (answer_measured)")
    if check_value(measured, predicted, atol=1e-9, rtol=0):
        return Check(WRONG, "measurement", "your measurement equals your prediction exactly: add the noise and "
                     "measure the cosines instead of copying the prediction")
    queries = np.asarray(queries, dtype=np.float64)
    noisy = noisy_copies(queries)
    dots = np.sum(queries * noisy, axis=1)
    cosines = dots / (np.linalg.norm(queries, axis=1) * np.linalg.norm(noisy, axis=1))
    truth = float(cosines.mean())
    verdict = check_value(measured, truth, name="measurement", atol=1e-4)
    if verdict:
        return Check(RIGHT, "noise", f"right (the measurement is {abs(truth - theory):.4f} from the prediction; the "
                                     f"cosines spread by {cosines.std():.3f} around it)")
    otherwise = Check(WRONG, "measurement", "the prediction is right, the measurement is off: " + verdict.message
                      + "; follow the recipe (np.random.default_rng(0), one standard normal draw of the queries' "
                      "shape times 0.05, the mean cosine of each query with its copy)")
    return known_mistake(measured, [
        (float(dots.mean()),
         "that is the mean dot product; the noisy copies are longer than 1, so divide by their lengths"),
    ], otherwise, atol=1e-4)


EXERCISES = [
    Exercise(1, 1, "The queries the encoder gets mostly wrong",
             ("precision@5 of one query is the share of its 5 results that carry its label.",
              "candidate_labels[ids] has one row per query; compare it with query_labels[:, None], take the mean "
              "of each row, and np.flatnonzero where it is below 0.5."),
             bad_queries,
             wrong=("answer_bad_queries = per_query < 0.5",
                    "answer_bad_queries = np.flatnonzero(per_query >= 0.5)")),
    Exercise(2, 2, "Top-5 with a full sort",
             ("Score all queries against all candidates in one matrix product, then sort each query's row.",
              "np.argsort sorts from small to large and works along the axis you give it; a higher cosine is "
              "better. Keep the first 5 columns."),
             top5_by_argsort,
             wrong=("answer_top5 = np.argsort(query_embeddings @ candidate_embeddings.T, axis=1)[:, :5]",
                    "answer_top5 = np.argsort(-(query_embeddings @ candidate_embeddings.T), axis=0)[:5]",
                    "answer_top5 = answer_top5[:, ::-1]")),
    Exercise(3, 1, "AP@5 by hand",
             ("Mark the ranks that are hits; at each hit, work out precision@i for the list cut at that rank.",
              "Add up precision@i at the hits only, and divide by min(k, n_rel): here k = 5 and the collection "
              "holds 4 relevant items, not the number of hits found."),
             ap_at_5,
             wrong=("answer_ap = (1 / 2 + 2 / 3 + 3 / 5) / 3",
                    "answer_ap = (1 / 2 + 2 / 3 + 3 / 5) / 5",
                    "answer_ap = 3 / 5")),
    Exercise(4, 2, "Your own 'no match' threshold",
             ("A threshold is a cosine: leaf queries at or above it are kept, non-leaf images below it rejected.",
              "(leaf_top1 >= x).mean() is the share of leaf queries kept, (non_leaf_top1 < x).mean() the share "
              "of non-leaf images rejected; try the observed scores as candidates for x."),
             threshold,
             wrong=("answer_threshold = 90",
                    "answer_threshold = float(np.percentile(leaf_top1, 90))",
                    "answer_threshold = float(np.percentile(non_leaf_top1, 10))")),
    Exercise(5, 3, "How far does noise turn a query? Predict, then measure",
             ("Noise spread over many dimensions is long even when each of its numbers is small, and it points "
              "almost at right angles to the query.",
              "Write cos(q, q + e) = q . (q + e) / (|q| |q + e|) with |q| = 1, q . e about 0 and |e|^2 about "
              "sigma^2 times the dimension. To measure: rng = np.random.default_rng(0), "
              "noisy = query_embeddings + 0.05 * rng.standard_normal(query_embeddings.shape)."),
             noise, predict=True,
             wrong=("answer_measured = answer_predicted",
                    "answer_predicted = 1 / (1 + 0.05 ** 2 * query_embeddings.shape[1])",
                    "answer_measured = float(np.mean(np.sum(query_embeddings * noisy, axis=1)))")),
]
