# Solution 1 (notebook 11). The app does exactly this when its method is "exact": one row of
# results per query, so take row 0.
answer_top5 = t.CosineIndex().add(course.candidate_embeddings).search(course.query_embeddings[3], k=5)[1][0]
print("the 5 nearest candidates of query 3:", answer_top5.tolist())
ex.check(1, answer_top5, candidates=course.candidate_embeddings, queries=course.query_embeddings)
