"""imgsim_tutorial: the helper package of a course on image-similarity search.

Modules follow the notebooks: ``data``/``leaves`` (00), ``embeddings`` (01), ``cosine_search``
and ``evaluation`` (02), ``random_projection`` (03), ``hash_tables`` (04), ``faiss_index`` (05),
``widgets`` (02-06). Importing the package is cheap: torch, transformers, datasets and faiss are
imported only inside the functions that need them, so :func:`resolve_mode` can decide
hub-or-offline before they load.
"""

from .cosine_search import CosineIndex, cosine_similarity, normalize, top_k
from .data import cache_dir, course_sizes, generate_beans, load_beans, seeded_subset
from .embeddings import embed_dataset, embed_images, embedding_function, load_encoder, to_rgb
from .baselines import SharedPlanesLSH, naive_search
from .evaluation import (average_precision, mean_average_precision, precision_at_k,
                         recall_at_k, time_call)
from .leaves import LABEL_NAMES, draw_leaf
from .mode import probe_hub, resolve_mode

__version__ = "0.1.0"

__all__ = [
    "LABEL_NAMES", "CosineIndex", "average_precision", "cache_dir", "cosine_similarity", "course_sizes",
    "draw_leaf", "embed_dataset", "embed_images", "embedding_function", "generate_beans", "load_beans",
    "load_encoder", "mean_average_precision", "naive_search", "normalize", "precision_at_k", "probe_hub",
    "recall_at_k", "resolve_mode", "seeded_subset", "time_call", "to_rgb", "top_k",
]
