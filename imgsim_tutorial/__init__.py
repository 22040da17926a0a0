"""imgsim_tutorial: the helper package of a course on image-similarity search.

The listing reads like the syllabus. Lesson modules sit at the top level, in course order:
``embeddings`` (01), ``cosine_search`` and ``evaluation`` (02), ``random_projection`` (03),
``hash_tables`` and ``tuning`` (04-05), ``ivf`` (06), ``graph`` (07), ``pq``, ``faiss_factory`` and
``choose`` (08), ``faiss_index`` (09), ``filtering`` (10), ``neardup`` and ``spark`` (12); ``course``
is what every notebook starts from. ``vectors`` (input checks) and ``index_base`` (the contract
every index keeps) are what the indexes stand on. Three folders hold what a learner reads less:
``data/`` (the beans photos or their offline stand-in, leaves, uploads, augmented copies,
synthetic embeddings), ``teaching/`` (exercises, plotting, diagrams, the course map, the original
tutorial's baselines) and ``_support/`` (plumbing: mode, cache, files, memory, the embedding
worker, LSH's all-at-once bucket lookup); ``widgets/`` holds the views.
Imports run one way: lessons never import widgets, ``_support`` never imports a lesson.

Every public name is importable from the top level (``from imgsim_tutorial import HNSWIndex``),
yet ``import imgsim_tutorial`` imports nothing heavy: a name is looked up in ``_LAZY`` and its
module is imported the first time the name is used. So torch, transformers, datasets, faiss and
ipywidgets load only when needed, and :func:`resolve_mode` decides hub-or-offline before they do.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil

__version__ = "0.1.0"

# public name -> the module (inside this package) that defines it; one line per name.
_LAZY = {
    "LABEL_NAMES": "data.leaves", "draw_leaf": "data.leaves",
    "probe_hub": "_support.mode", "resolve_mode": "_support.mode", "HubUnavailableError": "_support.mode",
    "CacheWarning": "_support.cache",
    "realistic_embeddings": "data.synthetic", "mixture_embeddings": "data.synthetic",
    "realistic_labels": "data.synthetic",
    "embedding_statistics": "data.synthetic",
    "cache_dir": "_support.cache", "course_sizes": "data.beans", "generate_beans": "data.beans",
    "load_beans": "data.beans",
    "seeded_subset": "data.beans", "SplitImages": "data.beans",
    "embed_dataset": "embeddings", "embed_images": "embeddings", "embedding_function": "embeddings",
    "load_encoder": "embeddings", "to_rgb": "embeddings",
    "Course": "course", "load_course": "course", "free_memory": "_support.memory",
    "IndexBase": "index_base", "found_mask": "index_base", "ShortResultWarning": "index_base",
    "CosineIndex": "cosine_search", "cosine_similarity": "cosine_search", "normalize": "vectors",
    "top_k": "cosine_search",
    "average_precision": "evaluation", "label_precision": "evaluation", "mean_average_precision": "evaluation",
    "precision_at_k": "evaluation", "recall_at_k": "evaluation", "time_call": "evaluation",
    "compare_speeds": "evaluation", "pinned_threads": "evaluation", "speed_table": "evaluation",
    "RandomHyperplanes": "random_projection", "any_table_collision_probability": "random_projection",
    "bit_agreement_probability": "random_projection", "hamming_distance": "random_projection",
    "table_collision_probability": "random_projection",
    "HashTable": "hash_tables", "LSHIndex": "hash_tables",
    "SharedPlanesLSH": "teaching.baselines", "naive_search": "teaching.baselines",
    "FlatIPIndex": "faiss_index", "FaissLSHIndex": "faiss_index", "MultiHashIndex": "faiss_index",
    "HNSWIndex": "faiss_index", "add_cosine_index": "faiss_index", "dataset_search": "faiss_index",
    "IVFIndex": "ivf", "GraphIndex": "graph", "PQIndex": "pq",
    "FactoryIndex": "faiss_factory", "add_factory_index": "faiss_factory",
    "choose_index": "choose", "ChoiceReport": "choose", "NoIndexFitsError": "choose",
    "Pairs": "neardup", "brute_force_pairs": "neardup", "near_duplicate_pairs": "neardup", "compare_pairs": "neardup",
    "augmented_copies": "data.augment", "known_duplicate_pairs": "data.augment",
    "SparkLSHIndex": "spark", "spark_near_duplicates": "spark", "spark_session": "spark",
    "FilterPlanner": "filtering", "prefilter_search": "filtering", "postfilter_search": "filtering",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # cache: later look-ups skip this function
        return value
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f".{name}", __name__)  # a submodule: imgsim_tutorial.ivf, ...
    raise AttributeError(f"module 'imgsim_tutorial' has no attribute {name!r}; see imgsim_tutorial.__all__ "
                         "for the public names")


def __dir__():
    return sorted({*globals(), *_LAZY, *(module.name for module in pkgutil.iter_modules(__path__))})
