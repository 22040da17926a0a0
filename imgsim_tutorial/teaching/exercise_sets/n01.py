"""Notebook 01, embeddings: the most alike pair, precision@k by hand, what the raw length knows,
the cost of embedding on a CPU, and search with random vectors predicted, then measured."""

from __future__ import annotations

import numpy as np

from ...cosine_search import CosineIndex
from ...evaluation import label_precision, precision_at_k
from ..exercise_book import Exercise
from ..exercises import RIGHT, WRONG, Check, check_value, known_mistake

KS = (1, 5, 20, 50)  # exercise 2: precision@k for these k
TRAIN_PHOTOS, IMAGES_PER_S = 1034, 6  # exercise 4: the full beans train split, a 2-core CPU's rate


def most_alike_pair(answer, *, embeddings, **_) -> Check:
    pair = np.asarray(answer).ravel()
    if pair.shape != (2,) or not np.issubdtype(pair.dtype, np.integer):
        return Check(WRONG, "pair", f"got {answer!r}; expected two row numbers (i, j), integers")
    n = len(embeddings)
    i, j = (int(row) for row in pair)
    if not (0 <= i < n and 0 <= j < n):
        return Check(WRONG, "pair", f"row numbers go from 0 to {n - 1}, got ({i}, {j})")
    if i == j:
        return Check(WRONG, "pair", "that is one image with itself (cosine 1); leave out the diagonal")
    vectors = np.asarray(embeddings, dtype=np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    similarities = vectors @ vectors.T
    np.fill_diagonal(similarities, np.nan)
    mine = similarities[i, j]
    if mine >= np.nanmax(similarities) - 1e-6:  # near-duplicates tie: any best pair is right
        return Check(RIGHT, "pair", "right")
    if mine <= np.nanmin(similarities) + 1e-6:
        return Check(WRONG, "pair", "that is the LEAST alike pair: the highest cosine is wanted")
    more_alike = int(np.sum(similarities > mine + 1e-6)) // 2
    return Check(WRONG, "pair", f"candidates {i} and {j} have cosine {mine:.4f}, but {more_alike} other pairs "
                                "are more alike")


def precisions(answer, *, embeddings, labels, queries, query_labels, **_) -> Check:
    try:
        values = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError):
        values = np.empty(0)
    if values.shape != (len(KS),):
        return Check(WRONG, "precision@k", f"expected {len(KS)} numbers, precision@1, @5, @20 and @50 in "
                                           f"that order; got {np.shape(answer) or type(answer).__name__}")
    labels, query_labels = np.asarray(labels), np.asarray(query_labels)
    _, ids = CosineIndex().add(embeddings).search(queries, max(KS))
    truth = np.array([precision_at_k(labels[ids[:, :k]], query_labels) for k in KS])
    if np.allclose(values, truth, atol=1e-6):
        return Check(RIGHT, "precision@k", "right")
    if np.allclose(values, truth * 100, atol=1e-4):
        return Check(WRONG, "precision@k", "these look like percentages: give fractions between 0 and 1")
    if np.allclose(values, truth * np.array(KS), atol=1e-4):
        return Check(WRONG, "precision@k", "these look like counts of hits per query: divide by k")
    if np.allclose(values, truth[::-1], atol=1e-6):
        return Check(WRONG, "precision@k", "the order is reversed: precision@1 first, precision@50 last")
    off = [f"@{k} too {'high' if value > right else 'low'}" for k, value, right in zip(KS, values, truth)
           if not np.isclose(value, right, atol=1e-6)]
    return Check(WRONG, "precision@k", "not yet: " + ", ".join(off)
                 + "; compare the labels of each query's first k results with the query's own label")


def length_accuracy(answer, *, lengths, labels, query_lengths, query_labels, **_) -> Check:
    lengths, labels = np.asarray(lengths, dtype=np.float64), np.asarray(labels)
    query_lengths, query_labels = np.asarray(query_lengths, dtype=np.float64), np.asarray(query_labels)
    classes = np.unique(labels)

    def nearest_mean_accuracy(means):
        return float(np.mean(classes[np.argmin(np.abs(query_lengths[:, None] - means[None, :]), axis=1)]
                             == query_labels))

    truth = nearest_mean_accuracy(np.array([lengths[labels == c].mean() for c in classes]))
    verdict = check_value(answer, truth, name="accuracy", atol=1e-6)
    if verdict:
        return verdict
    nearest_one = labels[np.argmin(np.abs(query_lengths[:, None] - lengths[None, :]), axis=1)]
    return known_mistake(answer, [
        (truth * 100, "this looks like a percentage: give a fraction between 0 and 1"),
        (1 - truth, "this is the share the rule gets WRONG; the accuracy is the share it gets right"),
        (nearest_mean_accuracy(np.array([query_lengths[query_labels == c].mean() for c in classes])),
         "the class means must come from the candidates (the train split), not from the queries being judged"),
        (float(np.mean(nearest_one == query_labels)),
         "that rule copies the label of the single candidate of nearest length; compare with each class's MEAN"),
    ], verdict, atol=1e-6)


def minutes(answer, **_) -> Check:
    truth = TRAIN_PHOTOS / IMAGES_PER_S / 60
    verdict = check_value(answer, truth, name="minutes", atol=0.2)  # "about": 3 minutes is fine
    if verdict:
        return verdict
    return known_mistake(answer, [
        (truth * 60, "that is a number of seconds: the question asks for minutes"),
        (truth / 60, "that is a number of hours: the question asks for minutes"),
        (TRAIN_PHOTOS * IMAGES_PER_S / 60, "photos times the rate is not a time: divide the photos by the rate"),
    ], verdict, rtol=0.05)


def random_vectors_precision(embeddings, labels, queries, query_labels, k: int = 5) -> float:
    """The recipe of exercise 5: precision@k of exact search over standard normal vectors, seed 0,
    the candidates' vectors drawn first."""
    rng = np.random.default_rng(0)
    random_candidates = rng.standard_normal(np.shape(embeddings))
    random_queries = rng.standard_normal(np.shape(queries))
    return label_precision(random_candidates, labels, random_queries, query_labels, k=k)


def random_search(predicted, measured=None, *, embeddings, labels, queries, query_labels, **_) -> Check:
    labels, query_labels = np.asarray(labels), np.asarray(query_labels)
    classes, counts = np.unique(labels, return_counts=True)
    share = dict(zip(classes.tolist(), (counts / len(labels)).tolist()))
    theory = float(np.mean([share.get(label, 0.0) for label in query_labels.tolist()]))
    verdict = check_value(predicted, theory, name="prediction", atol=1e-3)
    if not verdict:
        query_counts = np.unique(query_labels, return_counts=True)[1]
        otherwise = Check(WRONG, "prediction", "the prediction does not follow from the label shares: "
                          + verdict.message)
        return known_mistake(predicted, [
            (query_counts.max() / len(query_labels),
             "that is the dashed 'chance' line, always guessing the most common class; random results are "
             "another strategy: a result shares the query's label as often as that label occurs among candidates"),
            (1 / len(classes), "1 / (number of classes) holds only when the candidates are perfectly balanced; "
                               "weight by the share of each query's label among the candidates"),
        ], otherwise, atol=1e-3)
    if measured is None:
        return Check(WRONG, "measurement", "the prediction is right; now measure it (answer_measured)")
    # A precision of nq * k results is a multiple of 1 / (nq * k); equal to the theory means copied.
    if check_value(measured, predicted, atol=1e-9, rtol=0):
        return Check(WRONG, "measurement", "your measurement equals your prediction exactly: build the random "
                     "vectors and search them instead of copying the prediction")
    truth = random_vectors_precision(embeddings, labels, queries, query_labels)
    verdict = check_value(measured, truth, name="measurement", atol=1e-6)
    if verdict:
        return Check(RIGHT, "random search", f"right (the measurement is {abs(truth - theory):.3f} from theory)")
    otherwise = Check(WRONG, "measurement", "the prediction is right, the measurement is off: " + verdict.message
                      + "; follow the recipe exactly (np.random.default_rng(0), candidates' vectors drawn first, "
                      "standard normal, the same shapes as the embeddings, exact search, k = 5)")
    return known_mistake(measured, [
        (truth * 5, "that counts the hits per query; precision@5 divides them by the 5 results"),
    ], otherwise, atol=1e-6)


EXERCISES = [
    Exercise(1, 1, "The most alike pair of candidates",
             ("With unit vectors, one matrix product gives every pairwise cosine at once.",
              "candidate_embeddings @ candidate_embeddings.T, then np.fill_diagonal to rule out an image with "
              "itself, then np.argmax and np.unravel_index to turn the flat position into (i, j)."),
             most_alike_pair,
             wrong=("answer_pair = np.unravel_index(np.argmax(candidate_embeddings @ candidate_embeddings.T), "
                    "(len(candidate_embeddings),) * 2)",
                    "answer_pair = np.unravel_index(np.argmin(candidate_embeddings @ candidate_embeddings.T), "
                    "(len(candidate_embeddings),) * 2)")),
    Exercise(2, 2, "precision@k by hand for k = 1, 5, 20, 50",
             ("Search once with the largest k; the first k columns of the ids are the top-k for every smaller k.",
              "candidate_labels[ids[:, :k]] == query_labels[:, None] is True where a result shares the query's "
              "label; its mean over all queries and results is precision@k."),
             precisions,
             wrong=("answer_precisions = answer_precisions * 100",
                    "answer_precisions = answer_precisions * np.array([1, 5, 20, 50])",
                    "answer_precisions = answer_precisions[::-1]")),
    Exercise(3, 2, "Does the raw length alone tell the label?",
             ("One number per image is enough for a classifier: the class whose typical length is closest wins.",
              "Compute each class's mean of candidate_lengths (using length_labels), then for each query take "
              "np.argmin of |query length - class mean| and compare with query_labels."),
             length_accuracy,
             wrong=("answer_length_accuracy = 100 * answer_length_accuracy",
                    "answer_length_accuracy = 1 - answer_length_accuracy")),
    Exercise(4, 1, "Minutes to embed the full train split on a CPU",
             ("Time = amount of work / rate of work; then convert the unit.",
              "Photos divided by photos-per-second gives seconds; there are 60 seconds in a minute."),
             minutes,
             wrong=("answer_minutes = answer_minutes * 60",
                    "answer_minutes = 1034 * 6 / 60")),
    Exercise(5, 3, "Search with random vectors: predict, then measure",
             ("A random vector knows nothing about its image: each result is as good as a candidate drawn at "
              "random. How often does such a candidate share the query's label?",
              "A random candidate shares query q's label with probability (candidates with q's label) / (all "
              "candidates); average over the queries. To measure: rng = np.random.default_rng(0), draw the "
              "candidates' vectors, then the queries', with rng.standard_normal (same shapes as the embeddings), "
              "then t.evaluation.label_precision(..., k=5)."),
             random_search, predict=True,
             wrong=("answer_measured = answer_predicted",
                    "answer_predicted = chance",
                    "answer_measured = answer_measured * 5")),
]
