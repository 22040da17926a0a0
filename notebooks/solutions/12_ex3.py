# Solution 3 (notebook 12). The formula gives the chance for one pair at cosine exactly 0.92; the
# planted pairs measure it, within the standard error of 500 pairs. Section 2's copies were spread
# from 0.92 up to 0.995 and the closer ones almost always meet, so its recall was higher than this
# weakest case. Centring lowers the cosines the hyperplanes see, and with them the share found.
answer_predicted = float(t.any_table_collision_probability(0.92, n_bits=20, n_tables=32))
base_092, _ = realistic_embeddings(2_000, 768, seed=2)
copies_092, pairs_092 = plant_near_copies(base_092, 500, cosine_range=(0.92, 0.92), seed=1)
found_092 = set(map(tuple, near_duplicate_pairs(copies_092, 0.9, n_bits=20, n_tables=32).as_array().tolist()))
answer_measured = float(np.mean([tuple(pair) in found_092 for pair in pairs_092.tolist()]))
standard_error = np.sqrt(answer_predicted * (1 - answer_predicted) / len(pairs_092))
print(f"predicted {answer_predicted:.3f}, measured {answer_measured:.3f} "
      f"({abs(answer_measured - answer_predicted) / standard_error:.1f} standard errors apart)")
ex.check(3, answer_predicted, answer_measured, collection=copies_092, planted=pairs_092)
