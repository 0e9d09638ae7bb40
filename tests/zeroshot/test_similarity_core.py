"""NT-Xent known answers, trailer halves, exact cosine search and label suggestions."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from cinefeat.fuse.similarity.ntxent import nt_xent
from cinefeat.fuse.similarity.search import CosineIndex, SimilarityError
from cinefeat.fuse.similarity.suggest import format_suggestions, suggest_labels
from cinefeat.fuse.similarity.views import split_halves


def test_nt_xent_known_answer_for_two_orthogonal_pairs() -> None:
    # views: a, b (pair 0 = e1, e1) and (pair 1 = e2, e2): twin similarity 1, negatives 0
    first = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    loss = nt_xent(first, first.clone(), temperature=0.5)
    # each row: logits {twin: 2, other two views: 0} -> -log(e^2 / (e^2 + 2))
    assert loss.item() == pytest.approx(-math.log(math.e**2 / (math.e**2 + 2)), abs=1e-6)


def test_nt_xent_prefers_matching_twins() -> None:
    torch.manual_seed(0)
    first = torch.randn(8, 16)
    matched = nt_xent(first, first + 0.01 * torch.randn(8, 16))
    shuffled = nt_xent(first, first[torch.randperm(8)])
    assert matched < shuffled
    with pytest.raises(ValueError, match="at least 2"):
        nt_xent(first[:1], first[:1])


def test_split_halves_repacks_each_half_from_step_zero() -> None:
    values = torch.arange(1.0, 6.0).reshape(1, 5, 1).repeat(3, 1, 1)  # steps 1..5
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    (first, first_mask), (second, second_mask) = split_halves({"clip": values}, {"clip": mask})
    # 5 steps -> [1, 2] and [3, 4, 5]; 2 steps -> [1] and [2]; 1 step -> [1] in both views
    assert first_mask["clip"].sum(1).tolist() == [2, 1, 1]
    assert second_mask["clip"].sum(1).tolist() == [3, 1, 1]
    assert first["clip"][0, :2, 0].tolist() == [1.0, 2.0]
    assert second["clip"][0, :3, 0].tolist() == [3.0, 4.0, 5.0]
    assert second["clip"][1, 0, 0].item() == 2.0 and second["clip"][2, 0, 0].item() == 1.0
    assert (first["clip"][~first_mask["clip"]] == 0).all()


def test_cosine_index_matches_brute_force_and_excludes_the_query() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(500, 32)).astype(np.float32)
    ids = [f"t{i:03d}" for i in range(500)]
    index = CosineIndex(ids, vectors * rng.uniform(0.1, 10, size=(500, 1)))  # norms do not matter
    neighbours = index.similar("t007", k=10)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    brute = unit @ unit[7]
    brute[7] = -np.inf
    expected = np.argsort(-brute)[:10]
    assert [n.id for n in neighbours] == [ids[i] for i in expected]
    np.testing.assert_allclose([n.similarity for n in neighbours], brute[expected], rtol=1e-5)
    assert all(a.similarity >= b.similarity for a, b in itertools.pairwise(neighbours))


def test_cosine_index_errors_name_the_fix() -> None:
    index = CosineIndex(["a", "b"], np.eye(2))
    with pytest.raises(SimilarityError, match="cinefeat embed"):
        index.similar("zzz")
    with pytest.raises(SimilarityError, match="k must be"):
        index.similar("a", k=0)
    assert [n.id for n in index.similar("a", k=10)] == ["b"]


def test_suggestions_are_confident_labels_absent_from_the_truth() -> None:
    names = ["Drama", "Romance", "Horror"]
    probabilities = np.array([[0.9, 0.45, 0.1], [0.2, 0.3, 0.29], [0.31, 0.9, 0.8]])
    truth = np.array([[1, 0, 0], [0, 0, 0], [0, 1, 1]])
    found = suggest_labels(["a", "b", "c"], probabilities, truth, names)
    assert [(s.id, s.label) for s in found] == [("a", "Romance"), ("c", "Drama"), ("b", "Romance")]
    assert found[0].current_labels == ("Drama",)
    table = format_suggestions(found).splitlines()
    assert table[0].startswith("id\tsuggested") and table[1] == "a\tRomance\t0.450\tDrama"
