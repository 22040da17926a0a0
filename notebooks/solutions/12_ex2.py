# Solution 2 (notebook 12). Each unordered pair of different images once: n (n - 1) / 2, about
# 5 * 10**11 for a million images.
n_million = 10**6
answer_pairs = n_million * (n_million - 1) / 2
print(f"{answer_pairs:.3e} pairs")
ex.check(2, answer_pairs)
