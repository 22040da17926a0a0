# Solution 4 (notebook 03). Embeddings share a common direction (their mean is far from zero), so
# a hyperplane through the origin often sees almost all of them on one side: that bit carries
# little information. Subtracting the mean puts the origin inside the cloud.
balance_planes = t.RandomHyperplanes(64, dim, seed=5)
raw_share = balance_planes.bits(candidate_embeddings).mean(axis=0)
centred_share = balance_planes.bits(candidate_embeddings - candidate_embeddings.mean(axis=0)).mean(axis=0)
answer_balance = [float(np.mean((raw_share > 0.9) | (raw_share < 0.1))),
                  float(np.mean((centred_share > 0.9) | (centred_share < 0.1)))]
print(f"length of the mean embedding: {np.linalg.norm(candidate_embeddings.mean(axis=0)):.2f}; "
      f"nearly constant bits: raw {answer_balance[0]:.2f}, centred {answer_balance[1]:.2f}")
ex.check(4, answer_balance, candidates=candidate_embeddings)
