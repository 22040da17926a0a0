"""Sign bits, packing, Hamming distance, and the collision theory checked against measurement."""

import numpy as np
import pytest

from imgsim_tutorial.random_projection import (
    RandomHyperplanes,
    any_table_collision_probability,
    bit_agreement_probability,
    gaussian_projection,
    hamming_distance,
    pack_bits,
    popcount,
    table_collision_probability,
    unpack_bits,
)


def test_four_vectors_worked_by_hand():
    planes = RandomHyperplanes(2, 2)
    planes.normals = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)  # bit 0: x > 0, bit 1: y > 0
    vectors = [[1, 1], [-1, 1], [-1, -1], [1, -1]]
    assert planes.bits(vectors).tolist() == [[True, True], [False, True], [False, False], [True, False]]
    assert planes.codes(vectors).tolist() == [3, 2, 0, 1]


def test_pack_and_unpack_are_inverse(rng):
    bits = rng.random((50, 64)) > 0.5
    np.testing.assert_array_equal(unpack_bits(pack_bits(bits), 64), bits)
    assert pack_bits([[1, 0, 1]]).tolist() == [5]


def test_popcount_and_hamming():
    assert popcount([0, 1, 3, 2 ** 63, 2 ** 64 - 1]).tolist() == [0, 1, 2, 1, 64]
    assert hamming_distance(0b101, 0b011) == 2


def test_codes_depend_only_on_direction(rng):
    planes = RandomHyperplanes(16, 10, seed=1)
    vectors = rng.standard_normal((20, 10))
    np.testing.assert_array_equal(planes.codes(vectors), planes.codes(vectors * 7.5))


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="at least 1"):
        RandomHyperplanes(0, 4)
    assert RandomHyperplanes(65, 4).bits(np.ones((2, 4))).shape == (2, 65)
    with pytest.raises(ValueError, match="at most 64 bits"):
        RandomHyperplanes(65, 4).codes(np.ones((2, 4)))
    with pytest.raises(ValueError, match="dimension 4"):
        RandomHyperplanes(8, 4).codes(np.ones((2, 3)))


def test_theory_at_known_points():
    assert bit_agreement_probability(1.0) == 1.0
    assert bit_agreement_probability(0.0) == pytest.approx(0.5)
    assert bit_agreement_probability(-1.0) == 0.0
    assert table_collision_probability(0.0, 3) == pytest.approx(0.125)
    assert any_table_collision_probability(0.0, 1, 2) == pytest.approx(0.75)


@pytest.mark.parametrize("similarity", [0.2, 0.6, 0.9])
@pytest.mark.parametrize("n_bits", [1, 4])
def test_measured_collision_rate_matches_theory(similarity, n_bits):
    """Pairs at a fixed cosine, 4000 independent hyperplane sets: within 4 standard errors."""
    rng = np.random.default_rng(42)
    dim, trials = 32, 4000
    a = rng.standard_normal((trials, dim))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    noise = rng.standard_normal((trials, dim))
    noise -= (noise * a).sum(1, keepdims=True) * a
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    b = similarity * a + np.sqrt(1 - similarity ** 2) * noise  # exactly at cosine `similarity` to a
    planes = rng.standard_normal((trials, n_bits, dim))
    same = ((np.einsum("tbd,td->tb", planes, a) > 0) == (np.einsum("tbd,td->tb", planes, b) > 0)).all(axis=1)
    expected = table_collision_probability(similarity, n_bits)
    standard_error = np.sqrt(expected * (1 - expected) / trials)
    assert abs(same.mean() - expected) < 4 * standard_error


def test_gaussian_projection_preserves_cosine_better_with_more_dimensions(rng):
    vectors = rng.standard_normal((200, 256))
    true = vectors @ vectors.T / np.outer(*[np.linalg.norm(vectors, axis=1)] * 2)
    errors = []
    for n_dims in (8, 64, 256):
        projected = gaussian_projection(vectors, n_dims, seed=0)
        cos = projected @ projected.T / np.outer(*[np.linalg.norm(projected, axis=1)] * 2)
        errors.append(np.abs(cos - true).mean())
    assert errors[0] > errors[1] > errors[2]
