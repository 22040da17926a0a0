"""What notebooks 02-08 start from: encoder, data, candidates, queries, their embeddings.

Notebook 01 walks through these steps one by one; the later notebooks only need the result,
so ``load_course`` does them in one call, with the same seeds, the same sizes (smaller on a CPU
in hub mode) and the embeddings cached by notebook 01.

Memory matters on Binder (2 GB for all open notebooks): ViT-base's weights take 330 MB, and most
notebooks never run the encoder again once the embeddings exist. So ``load_course`` lets go of the
encoder once it has embedded what was not cached yet, and ``course.model`` / ``course.embed`` load
it again when a notebook needs it (a few seconds); images are decoded when shown (``SplitImages``).
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field

import numpy as np

from .data import SplitImages, course_sizes, load_beans, seeded_subset
from .embeddings import default_device, embed_dataset, embed_images, load_encoder
from .mode import resolve_mode


@dataclass
class Course:
    """The shared starting point. Arrays are row-aligned: row i of ``candidate_embeddings`` is
    ``candidate_images[i]`` with label ``candidate_labels[i]``."""

    mode: str
    processor: object
    candidates: object  # datasets.Dataset (train split, seeded subset on a CPU in hub mode)
    queries: object  # datasets.Dataset (test split, likewise)
    candidate_embeddings: np.ndarray
    query_embeddings: np.ndarray
    candidate_labels: np.ndarray
    query_labels: np.ndarray
    candidate_images: SplitImages  # indexed like a list; each photo decoded when shown
    query_images: SplitImages
    label_names: list
    loaded_model: object = field(default=None, repr=False)  # None until the encoder is needed

    @property
    def model(self):
        """The course's encoder, loaded on first use (ViT-base: a few seconds from the local cache)."""
        if self.loaded_model is None:
            self.processor, self.loaded_model = load_encoder(mode=self.mode)
        return self.loaded_model

    def release_model(self) -> None:
        """Let go of the encoder's weights; the next ``course.model`` or ``course.embed`` loads it again."""
        self.loaded_model = None
        gc.collect()

    def embed(self, image) -> np.ndarray:
        """One image's embedding with the course's encoder, e.g. for an upload: (d,)."""
        return embed_images([image], self.processor, self.model)[0]


def load_course(mode: str | None = None) -> Course:
    """Load everything notebooks 02-08 need (about 10 s offline once notebook 01 has run).

    The encoder embeds what is not cached yet and is then released (see ``Course.model``).
    """
    mode = mode or resolve_mode()
    processor, model = load_encoder(mode=mode)
    beans = load_beans(mode)
    sizes = course_sizes(mode, default_device())
    candidates = seeded_subset(beans["train"], sizes["n_candidates"], seed=0)
    queries = seeded_subset(beans["test"], sizes["n_queries"], seed=0)
    course = Course(mode=mode, processor=processor, candidates=candidates, queries=queries,
                    candidate_embeddings=embed_dataset(candidates, processor, model),
                    query_embeddings=embed_dataset(queries, processor, model),
                    candidate_labels=np.array(candidates["labels"]), query_labels=np.array(queries["labels"]),
                    candidate_images=SplitImages(candidates), query_images=SplitImages(queries),
                    label_names=beans["train"].features["labels"].names)
    del model
    gc.collect()
    return course
