# Solution 1 (notebook 09). ef_search is a setting read at search time: no rebuild needed. A
# narrower beam than the sweep's widest finds a little less.
hnsw.ef_search = 30
answer_hnsw_recall = t.recall_at_k(hnsw.search(pool_queries, 10)[1], pool_truth[1])
print(f"recall@10 at ef_search=30: {answer_hnsw_recall:.3f}")
ex.check(1, answer_hnsw_recall, index=hnsw, queries=pool_queries, pool=pool)
