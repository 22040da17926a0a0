# Solution 5 (notebook 02). |q| = 1; the noise has d independent parts of variance sigma^2, so
# |e|^2 is close to sigma^2 d, and in many dimensions e is almost perpendicular to q (q . e is
# about 0). So cos(q, q + e) = (1 + q . e) / |q + e|, about 1 / sqrt(1 + sigma^2 d). Noise that is
# small in every number adds up over many of them: in 768 dimensions sigma = 0.05 turns a query
# by about 54 degrees. The ranking can survive a large drop in the scores, because the noise turns
# the query away from every candidate by about the same angle; how well it survives depends on how
# far apart the classes are.
sigma, dimension = 0.05, query_embeddings.shape[1]
answer_predicted = 1 / np.sqrt(1 + sigma ** 2 * dimension)
rng = np.random.default_rng(0)
noisy = query_embeddings + sigma * rng.standard_normal(query_embeddings.shape)
cosines = np.sum(query_embeddings * noisy, axis=1) / (np.linalg.norm(query_embeddings, axis=1)
                                                      * np.linalg.norm(noisy, axis=1))
answer_measured = float(cosines.mean())
noisy_precision = t.precision_at_k(candidate_labels[index.search(noisy, 5)[1]], query_labels)
print(f"cosine: predicted {answer_predicted:.4f}, measured {answer_measured:.4f} (spread {cosines.std():.3f}); "
      f"precision@5: {noisy_precision:.3f} with noisy queries, {quality['precision@5']:.3f} without")
ex.check(5, answer_predicted, answer_measured, queries=query_embeddings)
