# Solution 3 (notebook 06). k-means puts its cells where the data is, and the data comes in
# clusters of unequal size, so the cells are unequal too. A query tends to land where the data is
# dense, in a large cell: that is why exercise 1's query scanned more than 5 equal lists would hold.
largest = np.sort(ivf.list_sizes())[-10:]
answer_largest = largest.sum() / N
print(f"the 10 largest lists hold {largest.tolist()} embeddings: {answer_largest:.1%} of the collection "
      f"(10 equal lists would hold {10 / ivf.n_lists:.0%})")
ex.check(3, answer_largest, index=ivf)
