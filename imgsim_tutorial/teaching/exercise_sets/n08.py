"""Notebook 08, compression and choosing an index: PQ's compression ratio, the memory 50 million
images need as float32 vectors and as PQ codes, and what PQ holds per image at this notebook's N,
codebooks included (predicted, then measured with ``choose_index`` under a budget).
"""

from __future__ import annotations

import math

import numpy as np

from ...pq import PQIndex
from ..exercise_book import Exercise
from ..exercises import Check, check_value
from ..exercises import one_number as _number
from ..exercises import wrong as _wrong

N_IMAGES, DIM, PQ_BYTES = 50e6, 384, 64  # exercise 2's collection
BUDGET_PER_IMAGE, ID_BYTES = 100, 8  # exercise 3: the memory budget, and an int64 id per image
# Mistakes with a recognisable factor (answer / right) in one entry of exercise 2, and what each means.
_UNIT_MISTAKES = {2**30 / 1e9: "is in GB (10**9 bytes), not GiB (2**30 bytes)",
                  1024.0: "is in MiB, not GiB", 8.0: "counts bits, not bytes"}
_FLOAT_MISTAKES = {1 / 4: "counts numbers, not bytes: how many bytes does one float32 number take?",
                   2.0: "counts 8 bytes per number; float32 numbers are smaller"}


def compression(answer, *, embeddings, **_) -> Check:
    dim, float_bytes = np.shape(embeddings)[1], np.asarray(embeddings).dtype.itemsize
    code_bytes = 32 * 8 // 8  # 32 pieces of n_bits=8: one byte each
    truth = dim * float_bytes / code_bytes
    value = _number(answer)
    if value is not None:
        if np.isclose(value, 1 / truth):
            return _wrong("upside down: the question asks how many times *smaller* the codes are")
        if np.isclose(value, dim / code_bytes):
            return _wrong("that compares numbers with bytes: count the bytes one float32 number takes")
        if np.isclose(value, truth / 8):
            return _wrong("that counts the codes in bits; n_bits=8 per piece is one byte per piece")
    verdict = check_value(answer, truth, atol=1e-6)
    return verdict if verdict else _wrong(verdict.message + "; bytes of one embedding over bytes of its codes")


def collection_gib(answer, **_) -> Check:
    truth = np.array([N_IMAGES * DIM * 4, N_IMAGES * PQ_BYTES]) / 2**30
    values = [_number(value) for value in answer] if np.ndim(answer) == 1 else []
    if len(values) != 2 or None in values:
        return _wrong("give two numbers: [float32 GiB, PQ GiB]")
    values = np.array(values)
    if np.allclose(values, truth, rtol=1e-3):
        return Check("right", "answer", "right")
    if np.allclose(values, truth[::-1], rtol=1e-3):
        return _wrong("swapped: give [float32 GiB, PQ GiB]")
    problems = []
    for name, value, right in zip(("float32", "PQ"), values, truth):
        if np.isclose(value, right, rtol=1e-3):
            continue
        mistakes = {**_UNIT_MISTAKES, **(_FLOAT_MISTAKES if name == "float32" else {})}
        named = [why for factor, why in mistakes.items() if np.isclose(value / right, factor, rtol=1e-3)]
        problems.append(f"the {name} size " + (named[0] if named else f"is off (got {value:.4g} GiB)"))
    return _wrong("; ".join(problems))


def _pq_prediction(predicted, index) -> tuple[float, Check | None]:
    """What grows with N per image (codes and id), and the verdict on a wrong prediction (None if right)."""
    codes = index.n_subvectors * index.n_bits / 8
    theory = codes + ID_BYTES
    mistakes = [(codes, "the prediction counts the codes only; every image also has an int64 id"),
                (codes * 8 + ID_BYTES, "the prediction counts the codes in bits; n_bits=8 is one byte per piece"),
                (sum(index.memory_bytes().values()) / len(index),
                 "the prediction includes the codebooks, which do not grow with N: leave them out")]
    value = _number(predicted)
    named = [why for wrong, why in mistakes if value is not None and np.isclose(value, wrong, atol=1e-6)]
    if named:
        return theory, _wrong(named[0])
    verdict = check_value(predicted, theory, atol=1e-6)
    return theory, None if verdict else _wrong("the prediction is not the codes plus the id: " + verdict.message)


def pq_at_this_n(predicted, measured=None, *, index, **_) -> Check:
    if not isinstance(index, PQIndex):
        return _wrong(f"pass the notebook's PQIndex as index=, got {type(index).__name__}")
    theory, wrong = _pq_prediction(predicted, index)
    if wrong is not None:
        return wrong
    if measured is None:
        return _wrong("the prediction is right; now ask choose_index within the budget and read its report "
                      "(answer_measured)")
    parts, n = index.memory_bytes(), len(index)
    truth, value = sum(parts.values()) / n, _number(measured)
    if value is not None and value == float(predicted) and truth != theory:
        return _wrong("your measurement equals your prediction exactly: read PQIndex's bytes_per_item from "
                      "choose_index's report instead of copying the prediction")
    if value is not None and np.isclose(value, truth * n):
        return _wrong("that is the whole index; per image, divide by N")
    if value is not None and np.isclose(value, parts["codebooks"] / n):
        return _wrong("that is the codebooks' share alone; the report's bytes_per_item counts everything")
    verdict = check_value(measured, truth, atol=1e-3)
    if not verdict:
        return _wrong("the prediction is right, the measurement is off: " + verdict.message
                      + "; bytes_per_item of the PQIndex rows in the report")
    fits_from = math.ceil(parts["codebooks"] / (BUDGET_PER_IMAGE - theory))
    return Check("right", "answer", f"right (the codebooks, {parts['codebooks']:,} bytes for all images, add "
                                    f"{truth - theory:.1f} bytes per image at N = {n:,}; PQ fits "
                                    f"{BUDGET_PER_IMAGE} bytes per image from N = {fits_from:,} on)")


EXERCISES = [
    Exercise(1, 1, "PQ's compression ratio with 32 pieces",
             ("Count bytes on both sides: one embedding as float32, one embedding as PQ codes.",
              "n_bits=8 means each piece is stored as one byte; a float32 number takes embeddings.dtype.itemsize "
              "bytes."),
             compression, wrong=("answer_ratio = 768 / 32",
                                 "answer_ratio = 1 / answer_ratio",
                                 "answer_ratio = answer_ratio / 8")),
    Exercise(2, 1, "Memory for 50 million images",
             ("Bytes per image times the number of images, then convert the unit.",
              "A float32 number takes 4 bytes; a PQ code of this kind takes 64 bytes per image; 1 GiB is 2**30 "
              "bytes, not 10**9."),
             collection_gib,
             wrong=("answer_gib = [gib * 2**30 / 1e9 for gib in answer_gib]",
                    "answer_gib = [answer_gib[0] / 4, answer_gib[1]]",
                    "answer_gib = answer_gib[::-1]")),
    Exercise(3, 3, "PQ within 100 bytes per image, codebooks included",
             ("The prediction: what every new image adds, one byte per piece and an int64 id. The measurement: "
              "what choose_index's report says PQ holds per image at this N, where the codebooks still count.",
              "pq.n_subvectors * pq.n_bits / 8 + 8; then try: t.choose_index(embeddings, recall_target=0.9, "
              "memory_budget_bytes=100 * N, methods=('ivf', 'hnsw', 'lsh', 'pq'), seed=0) except "
              "t.NoIndexFitsError as error: error.report; the row with method 'PQIndex' has bytes_per_item."),
             pq_at_this_n, predict=True,
             wrong=("answer_measured = answer_predicted",
                    "answer_predicted = pq.n_subvectors * pq.n_bits + 8",
                    "answer_measured = answer_measured * N")),
]
