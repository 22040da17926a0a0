# Solution 5 (notebook 03). The prediction is P = 1 - (1 - p(0.9) ** 12) ** 4. The measurement
# counts how many of 2,000 pairs collide in at least one of 4 tables; its standard error is
# sqrt(P (1 - P) / 2000), about 0.011, so a gap of a few thousandths is what to expect.
answer_predicted = float(t.any_table_collision_probability(0.9, 12, 4))
rng = np.random.default_rng(0)
a = rng.standard_normal((2000, 64))
a /= np.linalg.norm(a, axis=1, keepdims=True)
u = rng.standard_normal((2000, 64))
u -= (u * a).sum(axis=1, keepdims=True) * a  # remove the part along a: u is orthogonal to a
u /= np.linalg.norm(u, axis=1, keepdims=True)
b = 0.9 * a + np.sqrt(1 - 0.9 ** 2) * u  # unit length, cosine 0.9 with a
caught = np.zeros(2000, dtype=bool)
for table in range(4):
    planes = t.RandomHyperplanes(12, 64, seed=table)
    caught |= planes.codes(a) == planes.codes(b)
answer_measured = float(caught.mean())
standard_error = np.sqrt(answer_predicted * (1 - answer_predicted) / 2000)
print(f"predicted {answer_predicted:.4f}, measured {answer_measured:.4f}: "
      f"{abs(answer_measured - answer_predicted) / standard_error:.1f} standard errors apart")
ex.check(5, answer_predicted, answer_measured)
