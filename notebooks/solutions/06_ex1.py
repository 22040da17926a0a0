# Solution 1 (notebook 06). With lists of equal size, 5 of 100 lists would be 5% of the collection.
# k-means cells are not equal: dense regions get big cells, and queries come from where the data
# is, so they tend to land in (and probe) the bigger lists.
answer_predicted = 5 / 100
probed = ivf.probed_lists(queries[:1], n_probes=5)[0]
answer_measured = ivf.list_sizes()[probed].sum() / N
print(f"predicted {answer_predicted:.1%}; query 0 probes lists of sizes {ivf.list_sizes()[probed].tolist()}: "
      f"{answer_measured:.1%} of the collection")
ex.check(1, answer_predicted, answer_measured, index=ivf, queries=queries)
