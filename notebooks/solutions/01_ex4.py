# Solution 4 (notebook 01). Photos / (photos per second) = seconds, and / 60 = minutes: about three
# minutes on a CPU. On a GPU the same split takes seconds, and the cache makes every later call
# instant.
answer_minutes = 1034 / 6 / 60
print(f"1,034 photos / 6 per second = {1034 / 6:.0f} s = {answer_minutes:.1f} minutes")
ex.check(4, answer_minutes)
