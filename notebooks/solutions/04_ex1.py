# Solution 1 (notebook 04). Table t's hyperplanes depend only on (seed, t), so one more table only
# adds candidates and recall never falls: the first count that reaches the target is the smallest.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", t.ShortResultWarning)  # few tables may find fewer than k: lower recall
    for answer_tables in range(1, 65):
        _, found = t.LSHIndex(n_bits=8, n_tables=answer_tables).add(candidate_embeddings).search(query_embeddings, 10)
        if t.recall_at_k(found, exact_ids) >= 0.95:
            break
print(f"n_tables={answer_tables}: recall@10 = {t.recall_at_k(found, exact_ids):.3f}")
ex.check(1, answer_tables, embeddings=candidate_embeddings, queries=query_embeddings)
