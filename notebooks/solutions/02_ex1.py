# Solution 1 (notebook 02). precision@5 of one query is the mean of its row of label matches. Look
# at the galleries: the queries that fail are faint cases of their class, whose few small lesions
# look like what the leaves of another class carry (the lesson's query 1 is one such leaf).
per_query = (candidate_labels[ids] == query_labels[:, None]).mean(axis=1)
answer_bad_queries = np.flatnonzero(per_query < 0.5)
print("queries with precision@5 below 0.5:", answer_bad_queries, "their precision@5:", per_query[answer_bad_queries])
for worst in answer_bad_queries[:3]:
    figure = plotting.plot_gallery(gallery_view(index, query_embeddings[worst], query_images[worst],
                                                int(query_labels[worst]), candidate_images, candidate_labels,
                                                k=5, names=label_names))
ex.check(1, answer_bad_queries, index=index, queries=query_embeddings, labels=candidate_labels,
         query_labels=query_labels)
