# Solution 3 (notebook 09). The prediction: 768 float32 numbers and 2 x 16 links of 4 bytes. The
# FAISS index also stores, per node, its level and where its links start, and the nodes on upper
# layers keep M more links per layer: a few bytes per vector, on top of the prediction.
answer_predicted = 768 * 4 + 2 * 16 * 4
answer_measured = hnsw.memory_bytes()["faiss_index"] / len(hnsw)
print(f"predicted {answer_predicted} bytes per vector, measured {answer_measured:.1f}: the links are "
      f"{2 * 16 * 4 / answer_measured:.1%} of the index")
ex.check(3, answer_predicted, answer_measured, index=hnsw)
