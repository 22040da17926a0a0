# Solution 1 (notebook 01). With unit vectors every pairwise cosine is one matrix product. Its
# diagonal holds each image with itself (cosine 1): rule it out before looking for the largest.
similarities = candidate_embeddings @ candidate_embeddings.T
np.fill_diagonal(similarities, -np.inf)
first, second = np.unravel_index(np.argmax(similarities), similarities.shape)
answer_pair = (int(first), int(second))
print(f"candidates {first} and {second}: cosine {similarities[first, second]:.4f}")
figure = plotting.show_images([candidates[int(first)]["image"], candidates[int(second)]["image"]],
                              [label_names[candidate_labels[first]], label_names[candidate_labels[second]]], ncols=2)
ex.check(1, answer_pair, embeddings=candidate_embeddings)
