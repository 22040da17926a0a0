# Solution 3 (notebook 04). Query 0's code in each table, looked up in that table's dict. A near
# neighbour shares the query's bucket in several tables, so the sum counts it several times; the
# union (a set) scores each candidate once. Those repeats are the votes notebook 05 counts.
query_codes = [int((planes @ query_embeddings[0] > 0) @ 2 ** np.arange(len(planes))) for planes in hyperplanes]
buckets = [table.get(code, []) for table, code in zip(tables, query_codes)]
answer_buckets = [sum(len(bucket) for bucket in buckets), len(set().union(*buckets))]
print(f"{answer_buckets[0]} look-ups, {answer_buckets[1]} distinct candidates; LSHIndex with one probe: "
      f"{len(index.candidates(query_embeddings[0]))}")
ex.check(3, answer_buckets, hyperplanes=hyperplanes, embeddings=candidate_embeddings, queries=query_embeddings)
