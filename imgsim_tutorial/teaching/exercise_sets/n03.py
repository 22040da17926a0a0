"""Notebook 03, random projection: regions, the collision formula, Hamming ranking, balanced bits,
and the S-curve predicted, then measured."""

from __future__ import annotations

import numpy as np

from ...random_projection import RandomHyperplanes, any_table_collision_probability, table_collision_probability
from ..exercise_book import Exercise
from ..exercises import Check, check_array, check_value


def regions(answer, **_) -> Check:
    from ...widgets.buckets import bucket_view, demo_points

    return check_array(answer, [bucket_view(demo_points(), n, seed=0)["n_regions"] for n in range(1, 9)],
                       name="regions")


def same_bucket(answer, **_) -> Check:
    return check_value(answer, float(table_collision_probability(0.8, 16)), name="P(same bucket)", atol=1e-4)


def hamming_recall(answer, *, candidates, queries, **_) -> Check:
    from ...cosine_search import CosineIndex
    from ...evaluation import recall_at_k
    from ...random_projection import hamming_distance

    planes = RandomHyperplanes(64, candidates.shape[1], seed=4)
    order = np.argsort(hamming_distance(planes.codes(candidates), planes.codes(queries[:1])), kind="stable")
    true_top = CosineIndex().add(candidates).search(queries[0], 10)[1]
    return check_value(answer, recall_at_k(order[None, :10], true_top), name="recall@10", atol=1e-6)


def balance(answer, *, candidates, **_) -> Check:
    planes = RandomHyperplanes(64, candidates.shape[1], seed=5)
    shares = [planes.bits(candidates).mean(axis=0),
              planes.bits(candidates - candidates.mean(axis=0)).mean(axis=0)]
    return check_array(answer, [float(np.mean((share > 0.9) | (share < 0.1))) for share in shares],
                       name="[raw, centred]")


def measured_collisions(n_pairs: int = 2000, dim: int = 64, n_bits: int = 12, n_tables: int = 4) -> float:
    """The recipe of exercise 5: pairs at cosine exactly 0.9, share caught by >= 1 of 4 tables."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n_pairs, dim))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    u = rng.standard_normal((n_pairs, dim))
    u -= (u * a).sum(axis=1, keepdims=True) * a
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    b = 0.9 * a + np.sqrt(1 - 0.9 ** 2) * u
    caught = np.zeros(n_pairs, dtype=bool)
    for table in range(n_tables):
        planes = RandomHyperplanes(n_bits, dim, seed=table)
        caught |= planes.codes(a) == planes.codes(b)
    return float(caught.mean())


def s_curve_point(predicted, measured=None, **_) -> Check:
    theory = float(any_table_collision_probability(0.9, 12, 4))
    verdict = check_value(predicted, theory, name="prediction", atol=1e-3)
    if not verdict:
        return Check("wrong", "prediction", "the prediction does not match the formula for K = 12 bits and "
                     "L = 4 tables: " + verdict.message)
    if measured is None:
        return Check("wrong", "measurement", "the prediction is right; now measure it (answer_measured)")
    truth = measured_collisions()
    # A share of 2,000 pairs is a multiple of 1/2000; the formula's value is not: equal means copied.
    if np.isclose(measured, predicted, atol=1e-9, rtol=0):
        return Check("wrong", "measurement", "your measurement equals your prediction exactly: measure it "
                     "with the recipe (pairs, tables, codes) instead of copying the formula")
    verdict = check_value(measured, truth, name="measurement", atol=0.005)
    if not verdict:
        return Check("wrong", "measurement", "the prediction is right, the measurement is off: "
                     + verdict.message + "; follow the recipe exactly (seed 0 for the pairs, "
                     "seed t for table t, a pair counts if it collides in at least one table)")
    return Check("right", "S-curve", f"right (the measurement is {abs(truth - theory):.3f} from theory)")


EXERCISES = [
    Exercise(1, 1, "Regions made by n lines in 2-D",
             ("Count, do not compute: the bucket view reports how many regions it drew.",
              "Call bucket_view(demo_points(), n, seed=0) for each n and read its 'n_regions'."),
             regions, wrong=("answer_regions = [2 ** n for n in range(1, 9)]",
                             "answer_regions = list(range(1, 9))")),
    Exercise(2, 1, "P(same bucket) at cosine 0.8 with 16 bits",
             ("One bit agrees with probability p(s); the bits of a table are independent.",
              "p(s) = 1 - arccos(s) / pi for one bit; a table needs every one of its bits to agree."),
             same_bucket, wrong=("answer_same_bucket = 0.8 ** 16",
                                 "answer_same_bucket = 1 - np.arccos(0.8) / np.pi")),
    Exercise(3, 2, "Recall@10 of a Hamming-distance ranking",
             ("Code every candidate and query 0 with the same 64 planes; rank by how many bits differ.",
              "t.hamming_distance(codes_of_candidates, code_of_query) then np.argsort(kind='stable'); "
              "compare its first 10 with the exact top-10 using t.recall_at_k."),
             hamming_recall, wrong=("answer_hamming_recall = answer_hamming_recall * 10",
                                    "answer_hamming_recall = 1.0")),
    Exercise(4, 2, "Balanced bits, raw and centred",
             ("A bit is nearly constant when almost all embeddings fall on the same side of its plane.",
              "planes.bits(vectors).mean(axis=0) is each bit's share of ones; centre by subtracting "
              "the mean embedding, then count again."),
             balance, wrong=("answer_balance = answer_balance[::-1]",
                             "answer_balance = [share * 64 for share in answer_balance]")),
    Exercise(5, 3, "The S-curve at one point: predict, then measure",
             ("The prediction is the formula for L tables of K bits; the measurement counts pairs.",
              "Build pairs b = 0.9 a + sqrt(1 - 0.81) u with u a unit vector orthogonal to a; a pair is "
              "caught if RandomHyperplanes(12, 64, seed=t).codes agree for some table t in 0..3."),
             s_curve_point, predict=True,
             wrong=("answer_measured = answer_predicted",
                    "answer_predicted = float(t.table_collision_probability(0.9, 12))",
                    "answer_measured = answer_measured / 4")),
]
