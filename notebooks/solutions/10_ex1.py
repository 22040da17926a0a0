# Solution 1 (notebook 10). The filter is a mask over the candidates; leaf_index.search maps the allowed
# rows back to the collection's ids itself (scoring embeddings[mask] by hand gives positions in the
# subset, which are not ids).
rust = candidate_labels == label_names.index("bean_rust")
answer_ids = leaf_index.search(query, 5, allowed=rust)[1][0]
print("labels:", [label_names[label] for label in candidate_labels[answer_ids]])
ex.check(1, answer_ids, embeddings=candidate_embeddings, labels=candidate_labels, names=label_names, query=query)
