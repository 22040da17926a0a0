"""Synthetic embeddings that look like real ones, for every experiment about scale.

Builds on ``evaluation.py``. A benchmark is only as honest as its data. Points scattered around
well separated random centres (``evaluation.clustered_vectors``) are a trap: every true
neighbour sits in the query's own small cluster, so any method that finds the right cluster
scores recall 1.0 and all methods look alike. Embeddings from a real encoder differ in four ways,
and :func:`realistic_embeddings` reproduces each of them:

1. **a shared mean direction**: every image activates some features, so two random images
   already have a clearly positive cosine (about 0.3 here, not 0);
2. **clusters of unequal size**: a few big classes and a long tail of small ones (Zipf sizes),
   grouped in families of related clusters that overlap at their borders;
3. **low-dimensional variation inside a cluster**: members differ along a few directions of
   their own (pose, light, background), with decaying strength, plus a little isotropic noise;
4. **neighbours are a small part of their cluster**: clusters hold hundreds to thousands of
   points, so the top-10 of a query is a handful among many similar points, and the 10th and
   11th neighbour are nearly tied.

It leaves out everything about pixels: these are vectors only, and they are labelled SYNTHETIC
wherever they are used. :func:`embedding_statistics` measures the four properties so that a
notebook can print them next to every result. :func:`mixture_embeddings` is a second, independent
generator (an anisotropic Gaussian mixture) for checks that must not rest on the course's own data.
"""

from __future__ import annotations

import numpy as np

DEFAULTS = {"mean_weight": 0.65, "centre_weight": 0.55, "family_weight": 2.0, "tilt": 0.3, "subspace_dim": 24,
            "noise": 0.35, "zipf": 1.0}


def realistic_embeddings(n: int, dim: int = 768, *, n_queries: int = 0, n_clusters: int | None = None,
                         seed: int = 0, **shape) -> tuple[np.ndarray, np.ndarray]:
    """``n`` candidates and ``n_queries`` held-out queries from one distribution: float32, unit rows.

    ``n_clusters`` defaults to about ``sqrt(n) / 2`` (50 at 10,000; 158 at 100,000), so the
    typical cluster grows with the collection, as classes of real photos do. ``shape`` overrides
    :data:`DEFAULTS` (the weights of the mean direction, the cluster centres, the in-cluster
    subspace and the noise). Returns ``(embeddings (n, dim), queries (n_queries, dim))``.

    >>> embeddings, queries = realistic_embeddings(500, 32, n_queries=5, seed=1)
    >>> embeddings.shape, queries.shape, bool(abs(np.linalg.norm(queries, axis=1) - 1).max() < 1e-5)
    ((500, 32), (5, 32), True)
    """
    unknown = set(shape) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)}; realistic_embeddings accepts {sorted(DEFAULTS)}")
    if n < 1 or n_queries < 0 or dim < 2:
        raise ValueError(f"need n >= 1, n_queries >= 0 and dim >= 2, got n={n}, n_queries={n_queries}, dim={dim}")
    settings = {**DEFAULTS, **shape}
    rng = np.random.default_rng(seed)
    n_clusters = n_clusters or default_n_clusters(n)
    total = n + n_queries
    cluster_of = _assign_clusters(rng, n_clusters, total, settings["zipf"])

    mean_direction = _unit(rng.standard_normal(dim))
    # Clusters come in families (as breeds of dog do): a centre is its family's direction plus
    # its own, so neighbouring clusters overlap and a query's top-10 can cross a cluster border.
    families = _unit(rng.standard_normal((max(1, n_clusters // 4), dim)))
    centres = _unit(settings["family_weight"] * families[np.arange(n_clusters) % len(families)]
                    + _unit(rng.standard_normal((n_clusters, dim))))
    r = min(settings["subspace_dim"], dim)
    strengths = 1.0 / np.sqrt(np.arange(1, r + 1))  # decaying variation along each cluster's own axes
    strengths /= np.linalg.norm(strengths)

    # Each family varies along its own r directions; each cluster along a tilted copy of them.
    family_axes = [np.linalg.qr(rng.standard_normal((dim, r)))[0] for _ in range(len(families))]
    points = np.empty((total, dim), dtype=np.float32)
    for cluster in range(n_clusters):
        members = np.flatnonzero(cluster_of == cluster)
        if not len(members):
            continue
        tilted = family_axes[cluster % len(families)] + settings["tilt"] * rng.standard_normal((dim, r)) / np.sqrt(dim)
        axes = np.linalg.qr(tilted)[0].T  # r orthonormal directions (r, dim)
        inside = (rng.standard_normal((len(members), r)) * strengths) @ axes
        noise = rng.standard_normal((len(members), dim)) / np.sqrt(dim)
        points[members] = (settings["mean_weight"] * mean_direction + settings["centre_weight"] * centres[cluster]
                           + inside + settings["noise"] * noise)
    points /= np.linalg.norm(points, axis=1, keepdims=True)  # in place: no second n x dim copy
    # Queries are the last n_queries draws: same distribution, never in the collection.
    return points[:n], points[n:]


def realistic_labels(n: int, *, n_queries: int = 0, n_clusters: int | None = None, seed: int = 0,
                     zipf: float = DEFAULTS["zipf"]) -> tuple[np.ndarray, np.ndarray]:
    """The cluster of each point of :func:`realistic_embeddings` called with the same arguments.

    Returns ``(labels (n,), query_labels (n_queries,))``.

    >>> labels, query_labels = realistic_labels(500, n_queries=5, seed=1); labels.shape, query_labels.shape
    ((500,), (5,))
    """
    rng = np.random.default_rng(seed)
    cluster_of = _assign_clusters(rng, n_clusters or default_n_clusters(n), n + n_queries, zipf)
    return cluster_of[:n], cluster_of[n:]


def default_n_clusters(n: int) -> int:
    """About sqrt(n) / 2 clusters, at least 4: ``default_n_clusters(10_000)`` -> 50."""
    return max(4, int(round(np.sqrt(n) / 2)))


def _assign_clusters(rng, n_clusters: int, total: int, zipf: float) -> np.ndarray:
    # Zipf-like sizes: cluster j (0-based) has weight 1 / (j + 1) ** zipf. Drawn first, so that
    # realistic_labels reproduces the assignment from the seed alone.
    weights = 1.0 / np.arange(1, n_clusters + 1) ** zipf
    return rng.choice(n_clusters, size=total, p=weights / weights.sum())


def embedding_statistics(embeddings, queries, k: int = 10, labels=None, query_labels=None,
                         n_pairs: int = 20_000, seed: int = 0) -> dict:
    """The numbers that say whether a data set can tell search methods apart.

    - ``random_pair_cosine``: mean cosine of random pairs (0 for noise, clearly > 0 for real);
    - ``top1_cosine``, ``top10_cosine``: mean cosine of each query's 1st and k-th neighbour;
    - ``gap_k_k1``: mean gap between the k-th and (k+1)-th neighbour (near 0: no easy cut-off);
    - ``top_k_in_cluster``: share of the true top-k in the query's cluster (needs labels);
    - ``cluster_share_of_topk``: k divided by the mean size of the query's cluster, i.e. what
      part of its cluster the top-k is (small: the right cluster is not enough).
    """
    from ..cosine_search import CosineIndex

    embeddings, queries = np.asarray(embeddings, np.float32), np.asarray(queries, np.float32)
    rng = np.random.default_rng(seed)
    a, b = rng.integers(len(embeddings), size=(2, n_pairs))
    keep = a != b
    stats = {"n": len(embeddings), "dim": embeddings.shape[1], "n_queries": len(queries),
             "random_pair_cosine": float(np.mean(np.sum(embeddings[a[keep]] * embeddings[b[keep]], axis=1)))}
    scores, ids = CosineIndex().add(embeddings).search(queries, k + 1)
    stats.update(top1_cosine=float(scores[:, 0].mean()), top10_cosine=float(scores[:, k - 1].mean()),
                 gap_k_k1=float((scores[:, k - 1] - scores[:, k]).mean()))
    if labels is not None and query_labels is not None:
        labels, query_labels = np.asarray(labels), np.asarray(query_labels)
        stats["top_k_in_cluster"] = float((labels[ids[:, :k]] == query_labels[:, None]).mean())
        sizes = np.bincount(labels, minlength=int(max(labels.max(), query_labels.max())) + 1)
        stats["cluster_share_of_topk"] = float(np.mean(k / np.maximum(sizes[query_labels], 1)))
        stats["n_clusters"] = int((sizes > 0).sum())
    return stats


def _unit(vectors):
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def mixture_embeddings(n: int, dim: int = 768, *, n_queries: int = 0, seed: int = 0, n_clusters: int | None = None,
                       mean_weight: float = 0.6, centre_weight: float = 0.45, spread: float = 0.35, rank: int = 24,
                       size_tail: float = 1.5, noise: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """An anisotropic Gaussian mixture that looks like image embeddings: ``(embeddings, queries)``.

    Every point is ``mean_weight * m + centre_weight * c_j + s_j * (x + noise * e)``, normalised:
    ``m`` a direction shared by all (random pairs have cosine about 0.5, as CLIP's do), ``c_j``
    its cluster's centre, ``x`` a draw from the cluster's own covariance (``rank`` random axes
    with variances falling as 1/i: elongated, not round, clusters), ``e`` isotropic noise and
    ``s_j`` a log-normal spread per cluster. Cluster sizes are Pareto (``size_tail``):
    a few huge clusters and a long tail of small ones.

    >>> embeddings, queries = mixture_embeddings(300, 32, n_queries=4, seed=1)
    >>> embeddings.shape, queries.shape
    ((300, 32), (4, 32))
    """
    rng = np.random.default_rng(seed)
    n_clusters = n_clusters or max(8, n // 125)
    sizes = rng.pareto(size_tail, n_clusters) + 1.0
    cluster_of = rng.choice(n_clusters, size=n + n_queries, p=sizes / sizes.sum())
    mean = rng.standard_normal(dim)
    mean /= np.linalg.norm(mean)
    centres = rng.standard_normal((n_clusters, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    variances = 1.0 / np.arange(1, rank + 1)
    strengths = np.sqrt(variances / variances.sum())
    spreads = spread * np.exp(rng.normal(0.0, 0.3, n_clusters))
    points = np.empty((n + n_queries, dim), dtype=np.float32)
    for cluster in range(n_clusters):
        members = np.flatnonzero(cluster_of == cluster)
        if not len(members):
            continue
        axes = rng.standard_normal((rank, dim)) / np.sqrt(dim)
        inside = (rng.standard_normal((len(members), rank)) * strengths) @ axes
        isotropic = rng.standard_normal((len(members), dim)) / np.sqrt(dim)
        points[members] = (mean_weight * mean + centre_weight * centres[cluster]
                           + spreads[cluster] * (inside + noise * isotropic))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points[:n], points[n:]


def mixture_labels(n: int, *, n_queries: int = 0, seed: int = 0, n_clusters: int | None = None,
                   size_tail: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """The cluster of each point of :func:`mixture_embeddings` called with the same arguments
    (the same draws from the same seed): ``(labels (n,), query_labels (n_queries,))``.

    >>> labels, query_labels = mixture_labels(300, n_queries=4, seed=1); labels.shape, query_labels.shape
    ((300,), (4,))
    """
    rng = np.random.default_rng(seed)
    n_clusters = n_clusters or max(8, n // 125)
    sizes = rng.pareto(size_tail, n_clusters) + 1.0
    cluster_of = rng.choice(n_clusters, size=n + n_queries, p=sizes / sizes.sum())
    return cluster_of[:n], cluster_of[n:]
