# Solution 1 (notebook 12). For unit vectors |a - b|² = |a|² + |b|² - 2 a·b = 2 - 2 cos(a, b);
# the join wants the distance itself, so take the square root.
answer_distance = np.sqrt(2 - 2 * 0.95)
print(f"cosine 0.95 <=> Euclidean distance {answer_distance:.4f}")
ex.check(1, answer_distance)
