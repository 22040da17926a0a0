# Solution 2 (notebook 11). A grey image still has a nearest candidate; only its score says the
# match is poor. Compare it with what real leaves score to judge it.
exact_index = t.CosineIndex().add(course.candidate_embeddings)
grey_best = float(exact_index.search(grey_vector, k=1)[0][0, 0])
leaf_best = float(np.median(exact_index.search(course.query_embeddings, k=1)[0][:, 0]))
answer_scores = [grey_best, leaf_best]
print(f"grey image: {grey_best:.3f}; median leaf query: {leaf_best:.3f}; grey lower: {grey_best < leaf_best}")
ex.check(2, answer_scores, grey_vector=grey_vector, candidates=course.candidate_embeddings,
         queries=course.query_embeddings)
