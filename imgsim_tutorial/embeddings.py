"""Image embeddings: from pixels to one vector per image.

Builds on ``data/beans.py``. An *encoder* (a vision transformer here) turns an image into a
sequence of token vectors; we keep one vector per image as its ``embedding``:

- ViT-like models put a learned [CLS] token first, trained to summarise the image, so we take
  ``last_hidden_state[:, 0]``;
- models with no CLS token (CNNs such as ResNet) offer ``pooler_output`` instead.

Embeddings are L2-normalised by default, so that cosine similarity (notebook 02) is a plain dot
product. Computing them is the slow part of the course (ViT-base: about 3-7 images/s on a
2-core CPU, measured), so :func:`embed_dataset` caches them on disk, keyed by model, data and
preprocessing, and checks the cached file whenever it reads it (see ``cache.py``). Images are
made upright RGB first (see ``images.py``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._support.cache import cache_dir, read_embeddings, write_embeddings
from ._support.hub_deadline import hub_load, local_cache_only
from ._support.memory import trim_malloc
from ._support.mode import check_mode
from ._support.persistence import file_digest
from .data.images import open_image_bytes, to_rgb

HUB_CHECKPOINT = "nateraw/vit-base-beans"
OFFLINE_CHECKPOINT = Path(__file__).parent / "assets" / "leaf-vit-tiny"
CLS_MODEL_TYPES = {"vit", "deit", "beit", "dinov2", "vit_mae", "vit_msn", "data2vec-vision", "dinov3_vit"}


def default_device() -> str:
    """``"cuda"`` when a GPU is visible to torch, else ``"cpu"``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def default_batch_size(model) -> int:
    """Images per forward pass: 32 on a GPU or for a small model; 1 on a CPU for a large one.

    On a CPU, batches do not make ViT-base (86 M parameters) faster, only bigger. Measured on 2
    cores, 32 photos of 500 x 500: batch 1 held 21-23 MB of working memory at 2.7-3.7 images/s,
    batch 4 66-86 MB at 3.1-3.4 images/s, batch 32 405 MB at 3.2 images/s. Memory is what keeps a
    notebook under Binder's budget. The batch size does not change the embeddings.

    >>> processor, model = load_encoder(mode="offline", device="cpu"); default_batch_size(model)
    32
    """
    device = next(model.parameters()).device
    large = sum(p.numel() for p in model.parameters()) > 20_000_000
    return 1 if device.type == "cpu" and large else 32


def load_encoder(checkpoint: str | Path | None = None, mode: str | None = None, device: str | None = None):
    """Load ``(processor, model)`` with ``AutoImageProcessor``/``AutoModel``, ready for inference.

    ``checkpoint`` defaults to ``nateraw/vit-base-beans`` in hub mode and to the encoder shipped
    in ``imgsim_tutorial/assets/`` offline; any local folder in Hugging Face format works too.
    A Hub model already in the local Hugging Face cache is loaded from there without any network;
    a download that gets no answer for ``HUB_DEADLINE_S`` (20 s) fails, saying how to go offline.

    >>> processor, model = load_encoder(mode="offline"); model.config.hidden_size
    192
    """
    if checkpoint is None:
        checkpoint = HUB_CHECKPOINT if check_mode(mode) == "hub" else OFFLINE_CHECKPOINT
    checkpoint = str(checkpoint)
    local = Path(checkpoint).is_absolute() or checkpoint.startswith((".", "~"))
    if local and not Path(checkpoint).expanduser().is_dir():
        raise ValueError(f"checkpoint {checkpoint} is not a folder; pass a folder in Hugging Face format "
                         "(config.json, model.safetensors) or a Hub model id such as 'nateraw/vit-base-beans'")
    if local or Path(checkpoint).is_dir():
        return _load_encoder(str(Path(checkpoint).expanduser()), device)
    cached = _load_cached_encoder(checkpoint, device)
    if cached is not None:
        return cached
    with hub_load(f"the encoder {checkpoint!r}"):
        return _load_encoder(checkpoint, device)


def _load_cached_encoder(checkpoint: str, device: str | None):
    """``(processor, model)`` from the local Hugging Face cache with no network at all, or None if a
    file is missing there (never downloaded, or a first download that was interrupted)."""
    from huggingface_hub import try_to_load_from_cache

    if not isinstance(try_to_load_from_cache(checkpoint, "config.json"), str):
        return None
    try:
        with local_cache_only():  # not even huggingface_hub's telemetry request
            return _load_encoder(checkpoint, device, local_files_only=True)
    except OSError:  # transformers' "not found in the cache": the caller downloads what is missing
        return None


def checkpoint_signature(checkpoint: str | Path) -> str | None:
    """A hash of a checkpoint's files, read without loading it (no torch): its config, its image
    processor's config and its weights. None for a Hub id not in the local Hugging Face cache yet.

    In the Hugging Face cache a weights file links to a blob named by its SHA-256, so only the
    small files are read; a local folder's weights are hashed (ViT-base: about half a second).
    """
    folder = Path(checkpoint).expanduser()
    if not folder.is_dir():
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(str(checkpoint), "config.json")
        if not isinstance(found, str):
            return None
        folder = Path(found).parent
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.name not in ("config.json", "preprocessor_config.json") and path.suffix != ".safetensors":
            continue
        blob = path.resolve().name
        digest.update(path.name.encode())
        if path.suffix == ".safetensors" and len(blob) == 64 and path.is_symlink():
            digest.update(blob.encode())  # the blob's own name is its SHA-256
        else:
            digest.update(file_digest(path).encode())
    return digest.hexdigest()


def _load_encoder(checkpoint: str, device: str | None, local_files_only: bool = False):
    import transformers
    from transformers import AutoImageProcessor, AutoModel

    # The PIL backend needs no torchvision and gives the same pixels on every machine.
    processor = AutoImageProcessor.from_pretrained(checkpoint, backend="pil", local_files_only=local_files_only)
    # Loading a classifier checkpoint into the bare AutoModel drops its classification head;
    # transformers reports that at length. It is expected here, so hush it for this call only.
    verbosity = transformers.logging.get_verbosity()
    bars_were_on = transformers.utils.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()  # a bar for loading 1 file is noise
    try:
        model = AutoModel.from_pretrained(checkpoint, trust_remote_code=False, local_files_only=local_files_only)
    finally:
        transformers.logging.set_verbosity(verbosity)
        if bars_were_on:
            transformers.utils.logging.enable_progress_bar()
    return processor, model.eval().to(device or default_device())


def pool(outputs, model):
    """One vector per image from a model's outputs: CLS token or ``pooler_output``."""
    hidden = getattr(outputs, "last_hidden_state", None)
    if getattr(model.config, "model_type", None) in CLS_MODEL_TYPES and hidden is not None:
        return hidden[:, 0]
    pooled = getattr(outputs, "pooler_output", None)
    if pooled is not None:
        return pooled.flatten(1)  # CNN poolers return (n, d, 1, 1)
    if hidden is not None and hidden.dim() == 3:
        return hidden.mean(dim=1)
    raise ValueError(f"cannot pool outputs of a {type(model).__name__}: it has neither a CLS "
                     "token nor pooler_output; pass a vision encoder such as a ViT or a ResNet")


def embed_images(images, processor, model, batch_size: int | None = None, normalize: bool = True,
                 progress: bool | None = None, names=None) -> np.ndarray:
    """Embed a list of PIL images; returns float32 ``(n, d)``, unit length if ``normalize``.

    ``batch_size`` defaults to :func:`default_batch_size`; it does not change the result.

    An image that cannot be used raises an error naming it: ``names[i]`` if given, else ``image i``.

    >>> from PIL import Image; processor, model = load_encoder(mode="offline")
    >>> embed_images([Image.new("RGB", (96, 96))], processor, model).shape
    (1, 192)
    """
    import torch

    batch_size = default_batch_size(model) if batch_size is None else batch_size
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    images = images if isinstance(images, Sequence) else list(images)  # SplitImages: decoded batch by batch
    names = list(names) if names is not None else [f"image {i}" for i in range(len(images))]
    if not images:
        raise ValueError("embed_images got no images; pass a non-empty list of PIL images")
    if progress is None:
        progress = len(images) > 4 * batch_size
    starts = range(0, len(images), batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="embedding", unit="batch")
    device = next(model.parameters()).device
    chunks = []
    with torch.inference_mode():
        for start in starts:
            batch = [to_rgb(image, names[start + i]) for i, image in enumerate(images[start:start + batch_size])]
            pixels = processor(images=batch, return_tensors="pt")["pixel_values"].to(device)
            vectors = pool(model(pixel_values=pixels), model).float()
            if normalize:
                vectors = torch.nn.functional.normalize(vectors, dim=1)
            chunks.append(vectors.cpu().numpy())
            del batch, pixels, vectors
            trim_malloc()  # decoding and the forward pass leave freed blocks that malloc would keep
    return np.concatenate(chunks).astype(np.float32, copy=False)


def model_fingerprint(model) -> str:
    """A short hash of a model's weights (ViT-base: about 0.5 s): tells two models apart that
    share a config, e.g. a trained one and :func:`random_init_like`."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy())  # the array's own bytes, not a copy
    return digest.hexdigest()[:16]


def _not_unpicklable(description: str):
    raise ValueError(f"{description} holds a model and is not sent to other processes; call Dataset.map "
                     "without num_proc (one process), or embed with embed_dataset")


class EmbeddingFunction:
    """What :func:`embedding_function` returns: ``function(batch) -> {"embeddings": (n, d)}``.

    ``Dataset.map`` names its result by pickling the function it was given and hashing the bytes.
    For a plain closure that pickles the whole model (ViT-base: 330 MB, plus a copy, for a moment):
    this class offers datasets its identity instead: model, weights digest, processor, settings.
    """

    def __init__(self, processor, model, column: str = "image", normalize: bool = True):
        self.processor, self.model, self.column, self.normalize = processor, model, column, normalize

    def __call__(self, batch):
        images = batch[self.column]
        return {"embeddings": embed_images(images, self.processor, self.model, batch_size=len(images),
                                           normalize=self.normalize, progress=False)}

    def __reduce__(self):
        identity = json.dumps({"model": str(getattr(self.model.config, "_name_or_path", "")),
                               "weights": model_fingerprint(self.model), "processor": self.processor.to_json_string(),
                               "column": self.column, "normalize": self.normalize}, sort_keys=True)
        return _not_unpicklable, (f"EmbeddingFunction {identity}",)


def embedding_function(processor, model, column: str = "image", normalize: bool = True) -> EmbeddingFunction:
    """A function for ``Dataset.map(batched=True)`` that adds an ``embeddings`` column.

    >>> from imgsim_tutorial import load_beans; processor, model = load_encoder(mode="offline")
    >>> split = load_beans("offline")["test"].select(range(4))
    >>> split.map(embedding_function(processor, model), batched=True, batch_size=2).column_names
    ['image_file_path', 'image', 'labels', 'embeddings']
    """
    return EmbeddingFunction(processor, model, column, normalize)


def cache_key(dataset, processor, model) -> str:
    """A short hash naming one (model, data, preprocessing) combination: the file of its raw vectors.

    The weights are part of it (:func:`model_fingerprint`): a retrained encoder or a new Hub
    revision with the same config must not be served the old model's vectors.
    """
    parts = {
        "model": str(getattr(model.config, "_name_or_path", "")),
        "weights": model_fingerprint(model),
        "config": model.config.to_json_string(use_diff=True),
        "processor": processor.to_json_string(),
        "data": getattr(dataset, "_fingerprint", None) or str(dataset.num_rows),
        "normalize": False,  # the cache holds raw vectors; embed_dataset scales them on the way out
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def _decode_row(item, name: str):
    """One undecoded ``Image`` cell (``{"bytes", "path"}``) as a PIL image, errors naming the row."""
    if isinstance(item, dict):
        content = item.get("bytes")
        if content is None and item.get("path"):
            try:
                content = Path(item["path"]).read_bytes()
            except OSError as error:
                raise ValueError(f"{name}: its image file {item['path']} cannot be read ({error.strerror})") from error
        return open_image_bytes(content or b"", name)
    return item  # already a PIL image (a column that is not an Image feature)


def embed_rows(dataset, processor, model, batch_size: int | None = None, normalize: bool = True,
               column: str = "image") -> np.ndarray:
    """Embed a split with ``Dataset.map``, uncached; errors name the dataset row, e.g. ``row 17``.

    Images are decoded here, not by ``datasets``, so that a damaged one is reported with its row.
    The result is named (``new_fingerprint``) rather than letting datasets hash the function, which
    would pickle the whole model to do so.
    """
    from datasets import Image as ImageFeature

    rows = dataset.select_columns([column])
    if isinstance(rows.features[column], ImageFeature):
        rows = rows.cast_column(column, ImageFeature(decode=False))

    def add_embeddings(batch, indices):
        names = [f"dataset row {i}" for i in indices]
        images = [_decode_row(item, name) for item, name in zip(batch[column], names)]
        return {"embeddings": embed_images(images, processor, model, batch_size=len(images), normalize=normalize,
                                           progress=False, names=names)}

    name = hashlib.sha256(f"{rows._fingerprint} {id(model)} {normalize}".encode()).hexdigest()[:16]
    mapped = rows.map(add_embeddings, batched=True, with_indices=True, keep_in_memory=True, desc="embedding",
                      batch_size=default_batch_size(model) if batch_size is None else batch_size,
                      remove_columns=[column], new_fingerprint=name)
    return np.asarray(mapped.with_format("numpy")["embeddings"], dtype=np.float32)


def embed_dataset(dataset, processor, model, batch_size: int | None = None, normalize: bool = True,
                  cache: bool = True) -> np.ndarray:
    """Embed every image of a dataset split with ``Dataset.map``; cached on disk.

    Returns float32 ``(dataset.num_rows, d)``, row i for example i, unit length if ``normalize``.
    The cache holds the raw vectors and scales them on the way out, so asking again with
    ``normalize=False`` (their lengths) costs a file read, not a second pass of the model. The
    cache file is checked when read (see ``cache.py``): a damaged one is reported in one line and
    recomputed; a read-only cache keeps the result in memory after one warning.
    """
    key = cache_key(dataset, processor, model)
    path = cache_dir() / "embeddings" / f"{key}.npz"
    vectors = read_embeddings(path, key, dataset.num_rows) if cache else None
    if vectors is None:
        vectors = embed_rows(dataset, processor, model, batch_size=batch_size, normalize=False)
        if cache:
            write_embeddings(path, key, vectors)
    return unit_rows(vectors) if normalize else vectors


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 in float32, as ``torch.nn.functional.normalize`` does (eps 1e-12)."""
    lengths = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(lengths, 1e-12)).astype(np.float32, copy=False)


def random_init_like(model, seed: int = 0):
    """The same architecture as ``model`` (a model, or its ``config``) with fresh random weights:
    the "no training" baseline. Passing the config lets you free the trained model first."""
    import torch
    from transformers import AutoModel, PretrainedConfig

    config, device = ((model, default_device()) if isinstance(model, PretrainedConfig)
                      else (model.config, next(model.parameters()).device))
    torch.manual_seed(seed)
    return AutoModel.from_config(config).eval().to(device)


def pixel_vectors(images, size: int = 32) -> np.ndarray:
    """Raw pixels as vectors, the "no model at all" baseline: (n, size*size*3) float32, unit length."""
    rows = [np.asarray(to_rgb(image, f"image {i}").resize((size, size)), dtype=np.float32).ravel()
            for i, image in enumerate(images)]
    matrix = np.stack(rows) - 127.5  # centre so that cosine compares patterns, not brightness
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True).clip(1e-12)
