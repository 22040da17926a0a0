# Solution 4 (notebook 11). The expected bucket size is the sum, over the candidates, of the
# chance that each shares all 16 bits with the query. The embeddings crowd together (leaves look
# alike to the encoder), so many candidates have a real chance and the buckets are far fuller
# than an even spread over 2**16 codes. One draw of the hyperplanes can be far from the
# expectation (all queries share the same 16 planes); the average of ten draws comes closer.
cosines = np.clip(t.normalize(course.query_embeddings) @ t.normalize(course.candidate_embeddings).T, -1, 1)
answer_predicted = float(t.table_collision_probability(cosines.astype(np.float64), 16).sum(axis=1).mean())
draws = []
for seed in range(10):
    one_table = t.LSHIndex(n_bits=16, n_tables=1, seed=seed).add(course.candidate_embeddings)
    draws.append(one_table.search_with_stats(course.query_embeddings, k=6)[2]["n_candidates"].mean())
answer_measured = float(np.mean(draws))
print(f"predicted {answer_predicted:.1f} candidates per bucket; measured {answer_measured:.1f} "
      f"(single draws {min(draws):.1f} to {max(draws):.1f})")
ex.check(4, answer_predicted, answer_measured, candidates=course.candidate_embeddings,
         queries=course.query_embeddings)
