"""The supervised upper bound of Dogan et al.: the same attention model, trained with the test
labels seen.

Dogan et al. (arXiv 2409.00408, abstract and results) report, next to the zero-shot rows, "the
proposed method in the supervised scenario" as an upper bound: how well the model scores the test
labels when it is not asked to generalise to them. In a zero-shot split the only trailers that
carry test labels are the test trailers, so the bound is *cross-fitted*: the test trailers are cut
into two seeded halves; a head trains on the training trailers plus one half, with the training and
the test labels, and scores the other half; then the halves swap. Every test trailer is scored
once, by a head that never saw it, so the row is computed on the same trailers and labels as the
zero-shot rows and can stand next to them. Epoch and threshold M are still chosen on the
validation fold, as for the zero-shot head.
"""

from __future__ import annotations

import numpy as np

from cinefeat.fuse.data import PaddedFeatures
from cinefeat.fuse.zeroshot.folds import ZeroShotSplit
from cinefeat.fuse.zeroshot.labels import LabelEmbeddings
from cinefeat.fuse.zeroshot.metrics import evaluate_scores
from cinefeat.fuse.zeroshot.model import ZeroShotConfig
from cinefeat.fuse.zeroshot.rank import predict_scores
from cinefeat.fuse.zeroshot.train import TrainConfig, train_zero_shot

UPPER_BOUND = "supervised upper bound"


def seen_test_splits(split: ZeroShotSplit, seed: int = 0) -> list[ZeroShotSplit]:
    """Two splits whose training role holds the test labels and one half of the test trailers;
    the test role holds the other half (the halves swap between the two)."""
    test = np.asarray(split.trailers["test"])
    if len(test) < 2:
        raise ValueError(
            f"the test fold has {len(test)} trailer(s); the supervised upper bound needs at least "
            "2 (one half trains, the other is scored)"
        )
    order = np.random.default_rng(seed).permutation(len(test))
    halves = [np.sort(test[order[: len(test) // 2]]), np.sort(test[order[len(test) // 2 :]])]
    labels = {
        "train": [*split.labels["train"], *split.labels["test"]],
        "val": list(split.labels["val"]),
        "test": list(split.labels["test"]),
    }
    return [
        ZeroShotSplit(
            labels=labels,
            trailers={
                "train": np.sort(np.concatenate([split.trailers["train"], seen])),
                "val": split.trailers["val"],
                "test": scored,
            },
            dropped=split.dropped,
        )
        for seen, scored in (halves, halves[::-1])
    ]


def supervised_upper_bound(
    data: PaddedFeatures,
    split: ZeroShotSplit,
    label_embeddings: LabelEmbeddings,
    model_config: ZeroShotConfig,
    train_config: TrainConfig | None = None,
) -> dict:
    """The upper-bound row: scores of every test trailer x test label, from the cross-fitted
    heads (see the module doc), with the mean of their two thresholds M."""
    config = train_config or TrainConfig()
    labels = split.labels["test"]
    vectors = label_embeddings.select(labels).vectors
    rows, scores, thresholds, epochs = [], [], [], []
    for seen in seen_test_splits(split, config.seed):
        trained = train_zero_shot(data, seen, label_embeddings, model_config, config)
        scored = data.take(seen.trailers["test"], labels)
        rows.append(seen.trailers["test"])
        scores.append(predict_scores(trained.model, scored, vectors))
        thresholds.append(trained.threshold)
        epochs.append(trained.best_epoch)
    order = np.argsort(np.concatenate(rows))
    test = data.take(np.concatenate(rows)[order], labels)
    row = evaluate_scores(
        test.labels.numpy(), np.concatenate(scores)[order], labels, float(np.mean(thresholds))
    )
    return {**row, "best_epoch": epochs}
