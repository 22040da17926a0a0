# Solution 2 (notebook 02). np.argsort sorts from small to large, so sort the negated scores, along
# axis=1 (each query's row). A full sort costs n log n per query; argpartition (inside CosineIndex)
# finds the best k in linear time and sorts only those k. At a few hundred candidates both take
# well under a millisecond per query; the gap grows with n: try the same timing with
# t.realistic_embeddings(100_000, 192)[0] as candidates.
answer_top5 = np.argsort(-(query_embeddings @ candidate_embeddings.T), axis=1)[:, :5]
sort_time = t.time_call(lambda: np.argsort(-(query_embeddings @ candidate_embeddings.T), axis=1)[:, :5])
index_batch_time = t.time_call(index.search, query_embeddings, k=5)
print(f"argsort: {sort_time['median_s'] * 1e3:.2f} ms;  CosineIndex: {index_batch_time['median_s'] * 1e3:.2f} ms "
      f"for {len(query_embeddings)} queries x {len(candidate_embeddings)} candidates")
ex.check(2, answer_top5, embeddings=candidate_embeddings, queries=query_embeddings)
