# Solution 2 (notebook 07). Each node goes up one more layer with probability 1/M, so on average
# N / M nodes reach layer 1 (and N / M**2 layer 2): a few per cent of the nodes carry the long
# jumps. The count of one index is one draw of that chance, close to the average, not equal to it.
answer_predicted = N / 16
layered = hnsw_index(embeddings, M=16, ef_construction=40)  # the loop above left the one-layer index in hnsw
levels = faiss.vector_to_array(layered.hnsw.levels)  # layers per node: 1 = the bottom layer only
answer_measured = int((levels > 1).sum())
print(f"predicted {answer_predicted:.0f} nodes above the bottom layer, measured {answer_measured}; "
      f"nodes per top layer: {np.bincount(levels - 1).tolist()}")
ex.check(2, answer_predicted, answer_measured, index=layered)
