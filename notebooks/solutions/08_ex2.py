# Solution 2 (notebook 08). Bytes per image times the number of images: 384 float32 numbers are
# 1,536 bytes; a PQ code is 64. Then bytes to GiB, dividing by 2**30 (not 10**9).
answer_gib = [50e6 * 384 * 4 / 2**30, 50e6 * 64 / 2**30]
print(f"float32: {answer_gib[0]:.0f} GiB; PQ 64 B: {answer_gib[1]:.1f} GiB")
ex.check(2, answer_gib)
