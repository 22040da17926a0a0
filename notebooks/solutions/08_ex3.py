# Solution 3 (notebook 08). What grows with N: 16 one-byte codes and an 8-byte id per image. What
# does not: 16 codebooks of 256 centroids of 48 float32 numbers, shared by all images; at this N
# they still add more per image than the codes and ids together. So nothing approximate fits 100
# bytes per image here (exact search needs 30 times that), and choose_index says so by raising.
answer_predicted = pq.n_subvectors * pq.n_bits / 8 + 8
try:
    _, budget_report = t.choose_index(embeddings, recall_target=0.9, memory_budget_bytes=100 * N,
                                      methods=("ivf", "hnsw", "lsh", "pq"), seed=0)
except t.NoIndexFitsError as error:
    print(error)
    budget_report = error.report
answer_measured = next(row["bytes_per_item"] for row in budget_report.rows if row["method"] == "PQIndex")
codebook_bytes = pq.memory_bytes()["codebooks"]
fits_from = codebook_bytes / (100 - answer_predicted)  # codes + id + codebooks / N <= 100
print(f"predicted {answer_predicted:.0f} bytes per image, measured {answer_measured:.1f}: the codebooks add "
      f"{codebook_bytes / N:.1f}; PQ fits 100 bytes per image from N = {fits_from:,.0f} on")
ex.check(3, answer_predicted, answer_measured, index=pq)
