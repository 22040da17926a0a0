"""Random projection: from a 768-number embedding to a few sign bits.

Builds on ``cosine_search.py``. Draw a random hyperplane through the origin (its normal vector
has Gaussian entries). Every embedding lies on one side of it: that is one *bit*. With
``n_bits`` hyperplanes an embedding becomes an ``n_bits``-bit *code*; two embeddings get the
same code only if no hyperplane separates them.

The theory (Charikar, 2002): for two vectors at cosine similarity ``s`` (angle ``arccos s``), a
random hyperplane separates them with probability ``arccos(s) / pi``. So

- one bit agrees with probability            p = 1 - arccos(s) / pi
- all K bits of one table agree ("collide")  p ** K
- at least one of L tables collides          1 - (1 - p ** K) ** L

This module draws hyperplanes, turns vectors into bits and packed codes, measures Hamming
distance, and states the formulas above. Hash tables built on the codes are ``hash_tables.py``.
"""

from __future__ import annotations

import numpy as np

from .vectors import as_matrix

MAX_BITS = 64  # codes are packed into one uint64


class RandomHyperplanes:
    """``n_bits`` random hyperplanes through the origin in ``dim`` dimensions.

    Bit j of a code is 1 when the vector is on the positive side of hyperplane j, and it is
    stored at place value ``2 ** j`` (bit 0 is the least significant).

    >>> planes = RandomHyperplanes(2, 2, seed=0)
    >>> planes.normals = np.array([[1.0, 0.0], [0.0, 1.0]])   # the x and y axes, for a hand check
    >>> planes.codes([[1, 1], [-1, 1], [-1, -1], [1, -1]])      # quadrants -> 0b11, 0b10, 0b00, 0b01
    array([3, 2, 0, 1], dtype=uint64)
    """

    def __init__(self, n_bits: int, dim: int, seed: int = 0):
        if n_bits < 1:
            raise ValueError(f"n_bits must be at least 1, got {n_bits}")
        if dim < 1:
            raise ValueError(f"dim must be at least 1, got {dim}")
        self.n_bits, self.dim, self.seed = n_bits, dim, seed
        self.normals = np.random.default_rng(seed).standard_normal((n_bits, dim)).astype(np.float32)

    def margins(self, vectors) -> np.ndarray:
        """Signed distances-to-plane up to scale: (n, dim) -> (n, n_bits). Sign = bit."""
        return as_matrix(vectors, "vectors", self.dim) @ self.normals.T

    def bits(self, vectors) -> np.ndarray:
        """Which side of each hyperplane: (n, dim) -> bool (n, n_bits)."""
        return self.margins(vectors) > 0

    def codes(self, vectors) -> np.ndarray:
        """Bits packed into integers: (n, dim) -> uint64 (n,); needs n_bits <= 64."""
        return pack_bits(self.bits(vectors))


def pack_bits(bits) -> np.ndarray:
    """bool (n, n_bits) -> uint64 (n,), bit j at place value 2**j: ``pack_bits([[1, 0, 1]])`` -> [5]."""
    bits = np.atleast_2d(np.asarray(bits, dtype=bool))
    if bits.shape[1] > MAX_BITS:
        raise ValueError(f"at most {MAX_BITS} bits fit in a uint64 code, got {bits.shape[1]}; "
                         "use .bits() for longer bit vectors")
    place_values = np.left_shift(np.uint64(1), np.arange(bits.shape[1], dtype=np.uint64))
    return (bits.astype(np.uint64) * place_values).sum(axis=1, dtype=np.uint64)


def unpack_bits(codes, n_bits: int) -> np.ndarray:
    """uint64 (n,) -> bool (n, n_bits), the inverse of :func:`pack_bits`."""
    codes = np.asarray(codes, dtype=np.uint64).reshape(-1, 1)
    return (codes >> np.arange(n_bits, dtype=np.uint64)) & np.uint64(1) == 1


def popcount(values) -> np.ndarray:
    """Number of 1 bits in each uint64: ``popcount([0, 1, 3, 2**63])`` -> [0, 1, 2, 1]."""
    values = np.asarray(values, dtype=np.uint64)
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(values).astype(np.int64)
    as_bytes = values.reshape(-1, 1).view(np.uint8)
    return np.unpackbits(as_bytes, axis=1).sum(axis=1).reshape(values.shape).astype(np.int64)


def hamming_distance(a, b) -> np.ndarray:
    """Number of differing bits between codes (broadcasting): ``hamming_distance(0b101, 0b011)`` -> 2."""
    return popcount(np.bitwise_xor(np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64)))


def bit_agreement_probability(similarity) -> np.ndarray:
    """P(one random hyperplane puts both vectors on the same side) = 1 - arccos(s)/pi."""
    return 1 - np.arccos(np.clip(similarity, -1.0, 1.0)) / np.pi


def table_collision_probability(similarity, n_bits: int) -> np.ndarray:
    """P(all ``n_bits`` bits agree, so both land in the same bucket of one table)."""
    return bit_agreement_probability(similarity) ** n_bits


def any_table_collision_probability(similarity, n_bits: int, n_tables: int) -> np.ndarray:
    """P(same bucket in at least one of ``n_tables`` independent tables): the LSH S-curve.

    >>> round(float(any_table_collision_probability(0.9, n_bits=8, n_tables=10)), 3)
    0.967
    """
    return 1 - (1 - table_collision_probability(similarity, n_bits)) ** n_tables


def gaussian_projection(vectors, n_dims: int, seed: int = 0) -> np.ndarray:
    """Johnson-Lindenstrauss style dimension reduction: (n, d) -> (n, n_dims) float32.

    Unlike :class:`RandomHyperplanes` it keeps the projected values, not just their signs, so
    angles are roughly preserved; the error shrinks like ``1 / sqrt(n_dims)``.
    """
    matrix = as_matrix(vectors)
    projection = np.random.default_rng(seed).standard_normal((matrix.shape[1], n_dims)).astype(np.float32)
    return matrix @ projection / np.sqrt(n_dims)
