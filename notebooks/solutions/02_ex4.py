# Solution 4 (notebook 02). Try every observed score as the threshold and keep those that meet
# both targets; any of them is right. Which one to choose depends on which mistake costs more: a
# real query turned away, or a photo of something else answered with leaves.
options = [float(value) for value in np.sort(np.concatenate([leaf_top1, non_leaf_top1]))
           if (non_leaf_top1 < value).mean() >= 0.8 and (leaf_top1 >= value).mean() >= 0.9]
print(f"{len(options)} thresholds meet both targets"
      + (f", from {options[0]:.3f} to {options[-1]:.3f}" if options else ": the cosine alone cannot say 'no match'"))
answer_threshold = options[0] if options else False
ex.check(4, answer_threshold, leaf_scores=leaf_top1, non_leaf_scores=non_leaf_top1)
