# Solution 1 (notebook 07). Try the widths in order and stop at the first that is good enough; the
# beam is read at query time, so nothing is rebuilt.
for answer_ef in (8, 12, 16, 24, 32, 48, 64):
    graph.ef_search = answer_ef
    beam_recall = t.recall_at_k(graph.search(queries, K)[1], exact_ids)
    print(f"ef_search={answer_ef}: recall@10 {beam_recall:.3f}")
    if beam_recall >= 0.95:
        break
ex.check(1, answer_ef, index=graph, embeddings=embeddings, queries=queries)
