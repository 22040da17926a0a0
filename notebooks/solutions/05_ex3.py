# Solution 3 (notebook 05). The prediction reads the binomial tail: a chance visitor shares the
# query's bucket in one table with a small probability, and in two of 40 with a much smaller one,
# while a true neighbour, likely in each table, is still likely in two. Requiring 2 tables cuts
# the share to re-rank several-fold; the measurement comes close to the formula's average.
pool_profile = tuning.similarity_profile(pool, k=10, n_sample_queries=100, seed=0)
union_share = tuning.predict_lsh(pool_profile, len(pool), 11, 40, n_probes=9, center=True)["fraction_scanned"]
answer_predicted = tuning.predict_lsh(pool_profile, len(pool), 11, 40, n_probes=9, min_collisions=2,
                                      center=True)["fraction_scanned"]
filtered = t.LSHIndex(n_bits=11, n_tables=40, n_probes=9, center=True, min_collisions=2, seed=0).add(pool)
_, filtered_ids, filtered_stats = filtered.search_with_stats(pool_queries, 10)
answer_measured = filtered_stats["n_candidates"].mean() / len(pool)
print(f"share to re-rank: predicted {answer_predicted:.2%} (without the filter {union_share:.1%}), "
      f"measured {answer_measured:.2%}; recall@10 {t.recall_at_k(filtered_ids, largest_truth[1]):.3f}")
ex.check(3, answer_predicted, answer_measured, index=filtered, embeddings=pool, queries=pool_queries)
