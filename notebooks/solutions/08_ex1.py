# Solution 1 (notebook 08). One byte (n_bits=8) for each of the 32 pieces: 32 bytes of codes. The
# float32 embedding is 768 numbers of 4 bytes each, 3,072 bytes.
code_bytes = 32 * 8 // 8
answer_ratio = embeddings.shape[1] * embeddings.dtype.itemsize / code_bytes
print(f"{code_bytes} bytes of codes instead of {embeddings.shape[1] * embeddings.dtype.itemsize:,}: "
      f"{answer_ratio:.0f}x smaller")
ex.check(1, answer_ratio, embeddings=embeddings)
