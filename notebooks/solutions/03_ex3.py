# Solution 3 (notebook 03). Within a class cloud dozens of candidates are almost equally similar,
# and 64 bits cannot order them: the Hamming ranking is a good *shortlist* and a poor *ranking*.
code_planes = t.RandomHyperplanes(64, dim, seed=4)
distances = t.hamming_distance(code_planes.codes(candidate_embeddings), code_planes.codes(query_embeddings[:1]))
by_hamming = np.argsort(distances, kind="stable")
true_top = t.CosineIndex().add(candidate_embeddings).search(query_embeddings[0], 10)[1]
answer_hamming_recall = t.recall_at_k(by_hamming[None, :10], true_top)
print(f"recall@10 of the 10 nearest by Hamming: {answer_hamming_recall:.2f}; "
      f"true top-10 inside the 100 nearest by Hamming: {t.recall_at_k(by_hamming[None, :100], true_top):.2f}")
ex.check(3, answer_hamming_recall, candidates=candidate_embeddings, queries=query_embeddings)
