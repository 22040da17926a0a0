"""What notebooks 02-06 start from: encoder, data, candidates, queries, their embeddings.

Notebook 01 walks through these steps one by one; the later notebooks only need the result,
so ``load_course`` does them in one call, with the same seeds, the same sizes (smaller on a CPU
in hub mode) and the embeddings cached by notebook 01.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import course_sizes, load_beans, seeded_subset
from .embeddings import default_device, embed_dataset, embed_images, load_encoder
from .mode import resolve_mode


@dataclass
class Course:
    """The shared starting point. Arrays are row-aligned: row i of ``candidate_embeddings`` is
    ``candidate_images[i]`` with label ``candidate_labels[i]``."""

    mode: str
    processor: object
    model: object
    candidates: object  # datasets.Dataset (train split, seeded subset on a CPU in hub mode)
    queries: object  # datasets.Dataset (test split, likewise)
    candidate_embeddings: np.ndarray
    query_embeddings: np.ndarray
    candidate_labels: np.ndarray
    query_labels: np.ndarray
    candidate_images: list
    query_images: list
    label_names: list

    def embed(self, image) -> np.ndarray:
        """One image's embedding with the course's encoder, e.g. for an upload: (d,)."""
        return embed_images([image], self.processor, self.model)[0]


def load_course(mode: str | None = None) -> Course:
    """Load everything notebooks 02-06 need (about 10 s offline once notebook 01 has run)."""
    mode = mode or resolve_mode()
    processor, model = load_encoder(mode=mode)
    beans = load_beans(mode)
    sizes = course_sizes(mode, default_device())
    candidates = seeded_subset(beans["train"], sizes["n_candidates"], seed=0)
    queries = seeded_subset(beans["test"], sizes["n_queries"], seed=0)
    return Course(mode=mode, processor=processor, model=model, candidates=candidates, queries=queries,
                  candidate_embeddings=embed_dataset(candidates, processor, model),
                  query_embeddings=embed_dataset(queries, processor, model),
                  candidate_labels=np.array(candidates["labels"]), query_labels=np.array(queries["labels"]),
                  candidate_images=list(candidates["image"]), query_images=list(queries["image"]),
                  label_names=beans["train"].features["labels"].names)
