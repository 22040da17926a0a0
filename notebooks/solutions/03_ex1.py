# Solution 1 (notebook 03). Each line through the origin crosses every other line once, at the
# origin, so each new line cuts two existing regions in two: 2n regions, not 2**n.
answer_regions = [bucket_view(demo_points(), n, seed=0)["n_regions"] for n in range(1, 9)]
print("regions:", answer_regions, "| codes that could exist with 8 bits:", 2 ** 8)
ex.check(1, answer_regions)
