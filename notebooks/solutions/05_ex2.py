# Solution 2 (notebook 05). Per image: 768 float32 numbers (4 bytes each), one int64 id (8 bytes),
# and per table 24 bytes: a uint64 code and an int64 id in the sorted table, and the code once more
# in insertion order. The packed codes alone would be 20 x 16 bits = 40 bytes: the tables cost 12
# times that, and the vectors kept for the re-rank cost more than everything else together.
answer_bytes = 768 * 4 + 8 + 20 * (8 + 8 + 8)
print(f"{answer_bytes} bytes per image, of which the tables {20 * 24}; the packed codes alone would be {20 * 16 // 8}")
ex.check(2, answer_bytes)
