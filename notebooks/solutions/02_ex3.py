# Solution 3 (notebook 02). The hits are at ranks 2, 3 and 5, where precision@i is 1/2, 2/3 and
# 3/5. Divide by min(k, n_rel) = min(5, 4) = 4, not by the 3 hits found: the list missed one of
# the four relevant items, and AP@5 says so.
answer_ap = (1 / 2 + 2 / 3 + 3 / 5) / 4
print(f"AP@5 = {answer_ap:.4f}; the package agrees: {t.average_precision([0, 1, 1, 0, 1], 1, n_relevant=4):.4f}")
ex.check(3, answer_ap)
