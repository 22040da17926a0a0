# Solution 2 (notebook 09). The factory string names the kind of index; the metric must still be
# inner product, or the "scores" are L2 distances where lower is better. On a few hundred
# candidates the graph finds (almost) every true neighbour.
searchable.add_faiss_index("embeddings", index_name="hnsw", string_factory="HNSW32",
                           metric_type=faiss.METRIC_INNER_PRODUCT)
_, hnsw_ids = dataset_search(searchable, query_embeddings, k=10, index_name="hnsw")
answer_dataset_recall = t.recall_at_k(hnsw_ids, exact_ids)
print(f"recall@10 of the dataset's HNSW index: {answer_dataset_recall:.3f}")
ex.check(2, answer_dataset_recall, dataset=searchable, queries=query_embeddings, candidates=candidate_embeddings)
