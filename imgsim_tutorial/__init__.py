"""imgsim_tutorial: the helper package of a course on image-similarity search.

Modules follow the notebooks: ``mode``/``data``/``leaves`` (00), ``embeddings`` (01),
``cosine_search`` and ``evaluation`` (02), ``random_projection`` (03), ``hash_tables`` and
``baselines`` (04), ``faiss_index`` (06), ``plotting`` and ``widgets`` (all). Importing the
package is cheap: torch, transformers, datasets, faiss and ipywidgets are imported only inside
the functions that need them, so :func:`resolve_mode` decides hub-or-offline before they load.
"""

from . import baselines, cosine_search, data, embeddings, evaluation, hash_tables, leaves, mode, plotting, widgets
from . import random_projection
from .baselines import SharedPlanesLSH, naive_search
from .cosine_search import CosineIndex, cosine_similarity, normalize, top_k
from .course import Course, load_course
from .data import cache_dir, course_sizes, generate_beans, load_beans, seeded_subset
from .embeddings import embed_dataset, embed_images, embedding_function, load_encoder, to_rgb
from .evaluation import (average_precision, label_precision, mean_average_precision, precision_at_k,
                         recall_at_k, time_call)
from .hash_tables import HashTable, LSHIndex
from .leaves import LABEL_NAMES, draw_leaf
from .mode import probe_hub, resolve_mode
from .random_projection import (RandomHyperplanes, any_table_collision_probability, bit_agreement_probability,
                                hamming_distance, table_collision_probability)

__version__ = "0.1.0"

__all__ = [
    "LABEL_NAMES", "CosineIndex", "Course", "HashTable", "LSHIndex", "RandomHyperplanes", "SharedPlanesLSH",
    "any_table_collision_probability", "average_precision", "bit_agreement_probability", "cache_dir",
    "cosine_similarity", "course_sizes", "draw_leaf", "embed_dataset", "embed_images", "embedding_function",
    "generate_beans", "hamming_distance", "label_precision", "load_beans", "load_course", "load_encoder",
    "mean_average_precision", "naive_search", "normalize", "precision_at_k", "probe_hub", "recall_at_k",
    "resolve_mode", "seeded_subset", "table_collision_probability", "time_call", "to_rgb", "top_k",
]
