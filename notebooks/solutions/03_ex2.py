# Solution 2 (notebook 03). One bit agrees with p = 1 - arccos(0.8) / pi; a table of 16 bits
# needs all of them to agree, and the bits are independent: p ** 16.
p_bit = 1 - np.arccos(0.8) / np.pi
answer_same_bucket = p_bit ** 16
print(f"one bit agrees with p = {p_bit:.3f}; all 16 bits: {answer_same_bucket:.4f}")
ex.check(2, answer_same_bucket)
