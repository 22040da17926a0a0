"""TableBrowser: look inside one LSH hash table.

``table_view`` (pure) lists a table's buckets (largest first) and, for the chosen bucket, its
members, their labels and the label purity; ``TableBrowser`` wires a table chooser and a
bucket chooser to it and shows thumbnails and the bucket-size histogram.
"""

from __future__ import annotations

import numpy as np

from ..data.leaves import LABEL_NAMES


def table_view(index, table: int, bucket_rank: int, labels, names=LABEL_NAMES, max_members: int = 24,
               seed: int = 0) -> dict:
    """What the browser shows for bucket number ``bucket_rank`` (0 = largest) of ``table``.

    ``label_counts`` and ``purity`` count every member; ``members`` (and their ``labels``) are at
    most ``max_members`` of them, drawn at random with ``seed`` (then sorted): the first ids of
    a bucket would all come from one class when the collection is stored grouped by class.
    """
    if not 0 <= table < index.n_tables:
        raise ValueError(f"table must be between 0 and {index.n_tables - 1}, got {table}")
    codes, sizes = index.tables_[table].bucket_codes()
    if not 0 <= bucket_rank < len(codes):
        raise ValueError(f"bucket_rank must be between 0 and {len(codes) - 1}, got {bucket_rank}")
    code = codes[bucket_rank]
    members = index.bucket_members(table, code)
    member_labels = np.asarray(labels)[members]
    counts = np.bincount(member_labels, minlength=len(names))
    if len(members) > max_members:
        picked = np.sort(np.random.default_rng(seed).choice(len(members), size=max_members, replace=False))
    else:
        picked = np.arange(len(members))
    return {"table": table, "code": int(code), "code_bits": format(int(code), f"0{index.n_bits}b"),
            "size": int(sizes[bucket_rank]), "members": members[picked], "labels": member_labels[picked],
            "label_counts": {names[i]: int(c) for i, c in enumerate(counts)},
            "purity": float(counts.max() / counts.sum()), "bucket_sizes": sizes, "n_buckets": len(codes),
            "possible_buckets": 2 ** index.n_bits}


def plot_bucket_sizes(view: dict):
    """Histogram of the sizes of a table's non-empty buckets, the chosen one marked."""
    import matplotlib.pyplot as plt

    from ..teaching.plotting import DPI, integer_ticks

    figure, axis = plt.subplots(figsize=(4.4, 2.8), dpi=DPI)
    sizes = view["bucket_sizes"]
    # whole-number bin edges: a bucket holds a count of items, never a fraction of one
    step = max(1, -(-int(sizes.max()) // 30))
    axis.hist(sizes, bins=np.arange(0.5, sizes.max() + step + 0.5, step), color="#4c72b0")
    integer_ticks(axis, "both")
    axis.axvline(view["size"], color="#d1495b", lw=2, label="this bucket")
    axis.set_xlabel("items in bucket")
    axis.set_ylabel("buckets")
    axis.set_title(f"table {view['table']}: {view['n_buckets']} of {view['possible_buckets']} buckets used",
                   fontsize=9)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


class TableBrowser:
    """Choose a table and a bucket; see its images, their labels and the table's histogram."""

    def __init__(self, index, images, labels, names=LABEL_NAMES, thumbnail: int = 72):
        import ipywidgets as w

        self.index, self.images, self.labels = index, images, np.asarray(labels)
        self.names, self.thumbnail = names, thumbnail
        self._filling = False
        self.table = w.Dropdown(options=list(range(index.n_tables)), value=0, description="table")
        self.bucket = w.Dropdown(description="bucket")
        self.summary = w.HTML()
        self.histogram = w.Image(format="png")
        self.gallery = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.table.observe(lambda change: self._fill_buckets(), names="value")
        self.bucket.observe(lambda change: self.refresh(), names="value")
        self.widget = w.VBox([w.HBox([self.table, self.bucket]), self.summary,
                              w.HBox([self.gallery, self.histogram])])
        self._fill_buckets()

    def _fill_buckets(self):
        codes, sizes = self.index.tables_[self.table.value].bucket_codes()
        width = self.index.n_bits
        options = [(f"#{rank + 1}: {format(int(code), f'0{width}b')} ({size} items)", rank)
                   for rank, (code, size) in enumerate(zip(codes[:200], sizes[:200]))]
        self._filling = True  # changing options moves the value; refresh once, after
        try:
            self.bucket.options = options
            self.bucket.value = 0
        finally:
            self._filling = False
        self.refresh()

    def refresh(self):
        from .common import figure_png, thumbnail_card

        if self._filling or self.bucket.value is None:
            return
        self.view = view = table_view(self.index, self.table.value, self.bucket.value, self.labels, self.names)
        counts = ", ".join(f"{name}: {count}" for name, count in view["label_counts"].items())
        shown = f" (showing {len(view['members'])})" if len(view["members"]) < view["size"] else ""
        self.summary.value = (f"bucket <code>{view['code_bits']}</code> holds <b>{view['size']}</b> items{shown}; "
                              f"{counts}; label purity <b>{view['purity']:.2f}</b>")
        self.gallery.children = [thumbnail_card(self.images[int(member)], [f"{int(member)}", self.names[label]],
                                                size=self.thumbnail)
                                 for member, label in zip(view["members"], view["labels"])]
        self.histogram.value = figure_png(plot_bucket_sizes(view))
