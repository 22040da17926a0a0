# Solution 5 (notebook 01). A random vector knows nothing about its image, so a result shares the
# query's label as often as a candidate drawn at random: with probability (candidates with the
# query's label) / (all candidates), averaged over the queries. That is not the dashed "chance"
# line (always guessing the most common class), though with balanced classes the two are close.
# The measurement differs from the prediction by sampling noise: 5 results per query, not
# infinitely many. The untrained ViT is not a random vector: it still sees colour and brightness.
shares = np.bincount(candidate_labels, minlength=len(label_names)) / len(candidate_labels)
answer_predicted = float(shares[query_labels].mean())
rng = np.random.default_rng(0)
random_candidates = rng.standard_normal(candidate_embeddings.shape)  # candidates first, then queries
random_queries = rng.standard_normal(query_embeddings.shape)
answer_measured = t.evaluation.label_precision(random_candidates, candidate_labels, random_queries, query_labels, k=5)
print(f"random vectors: predicted {answer_predicted:.3f}, measured {answer_measured:.3f} | chance line {chance:.3f} | "
      f"same ViT, random weights {results['same ViT, random weights']:.3f} | trained {results['trained encoder']:.3f}")
ex.check(5, answer_predicted, answer_measured, embeddings=candidate_embeddings, labels=candidate_labels,
         queries=query_embeddings, query_labels=query_labels)
