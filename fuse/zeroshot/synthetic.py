"""A synthetic trailer set with a known answer for the zero-shot head.

Each label c has a prototype direction u_c in feature space; a trailer with label c shows u_c in
only a few of its time steps (a heist is a few shots of a trailer, not all of it), the other steps
are noise. The text side knows the prototypes: label embedding e_c = u_c A + small noise for one
fixed linear map A, so a head that learns A on the training labels can score unseen labels. Labels
come in co-occurring groups, as genres do, which the greedy fold split relies on.

Because the evidence sits in a few steps, attention (gamma > 0) should beat the uniform average
(gamma = 0) on unseen labels: that is the check of docs/heads/zeroshot.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from cinefeat.fuse.data import PaddedFeatures
from cinefeat.fuse.zeroshot.labels import LabelEmbeddings


@dataclass(frozen=True)
class SyntheticSpec:
    n_trailers: int = 1200
    n_groups: int = 12
    labels_per_group: int = 3
    feature_dim: int = 8
    text_dim: int = 12
    min_steps: int = 16
    max_steps: int = 40
    evidence_steps: int = 2
    evidence_scale: float = 3.0
    noise_scale: float = 1.0
    text_noise: float = 0.05
    seed: int = 0


def make_synthetic(
    spec: SyntheticSpec = SyntheticSpec(),
) -> tuple[PaddedFeatures, LabelEmbeddings]:
    """(sequences of one feature named "synthetic", label embeddings) with the structure above."""
    rng = np.random.default_rng(spec.seed)
    n_labels = spec.n_groups * spec.labels_per_group
    prototypes = rng.normal(size=(n_labels, spec.feature_dim))
    prototypes /= np.linalg.norm(prototypes, axis=1, keepdims=True)
    text_map = rng.normal(size=(spec.feature_dim, spec.text_dim)) / np.sqrt(spec.feature_dim)
    label_vectors = prototypes @ text_map
    label_vectors += spec.text_noise * rng.normal(size=label_vectors.shape)
    names = [f"label{c:02d}" for c in range(n_labels)]

    group_weights = 1.0 / np.sqrt(np.arange(1, spec.n_groups + 1))  # genre-like imbalance
    group_weights /= group_weights.sum()
    targets = np.zeros((spec.n_trailers, n_labels), dtype=np.float32)
    values = np.zeros((spec.n_trailers, spec.max_steps, spec.feature_dim), dtype=np.float32)
    mask = np.zeros((spec.n_trailers, spec.max_steps), dtype=bool)
    for i in range(spec.n_trailers):
        group = rng.choice(spec.n_groups, p=group_weights)
        members = group * spec.labels_per_group + np.arange(spec.labels_per_group)
        chosen = rng.choice(members, size=rng.integers(1, spec.labels_per_group + 1), replace=False)
        targets[i, chosen] = 1.0
        length = int(rng.integers(spec.min_steps, spec.max_steps + 1))
        steps = spec.noise_scale * rng.normal(size=(length, spec.feature_dim))
        for label in chosen:
            where = rng.choice(length, size=spec.evidence_steps, replace=False)
            steps[where] += spec.evidence_scale * prototypes[label]
        values[i, :length] = steps
        mask[i, :length] = True
    data = PaddedFeatures(
        values={"synthetic": torch.as_tensor(values)},
        masks={"synthetic": torch.as_tensor(mask)},
        labels=torch.as_tensor(targets),
        ids=[f"synthetic/{i:05d}" for i in range(spec.n_trailers)],
        label_names=names,
    )
    provenance = {"encoder": "synthetic: prototype @ fixed linear map", "seed": spec.seed}
    return data, LabelEmbeddings(names, label_vectors, provenance)
