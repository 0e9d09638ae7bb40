"""fp16/CUDA paths of the zero-shot trainer and the contrastive fine-tuning (GPU machines only)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cinefeat.fuse.data import PaddedFeatures
from cinefeat.fuse.heads import FeatureSpec, build_head
from cinefeat.fuse.similarity import ContrastiveConfig, contrastive_finetune, embed_all
from cinefeat.fuse.zeroshot.folds import greedy_label_folds, zero_shot_split
from cinefeat.fuse.zeroshot.model import ZeroShotConfig
from cinefeat.fuse.zeroshot.report import evaluate_trained
from cinefeat.fuse.zeroshot.synthetic import SyntheticSpec, make_synthetic
from cinefeat.fuse.zeroshot.train import TrainConfig, train_zero_shot

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_zero_shot_trains_under_fp16_autocast_on_cuda() -> None:
    data, embeddings = make_synthetic(SyntheticSpec(n_trailers=300))
    folds = greedy_label_folds(data.labels.numpy(), data.label_names)
    split = zero_shot_split(data.labels.numpy(), data.label_names, folds)
    config = ZeroShotConfig(label_dim=embeddings.dim, joint_dim=32)
    trained = train_zero_shot(
        data, split, embeddings, config, TrainConfig(epochs=5, batch_size=16, device="cuda")
    )
    assert next(trained.model.parameters()).is_cuda
    result = evaluate_trained(trained, data, split, embeddings)
    assert np.isfinite(result["mean_ap"]) and all(np.isfinite(h["loss"]) for h in trained.history)


def test_contrastive_finetuning_runs_on_cuda() -> None:
    rng = np.random.default_rng(0)
    rows = [rng.normal(size=(12, 8)).astype(np.float32) for _ in range(64)]
    data = PaddedFeatures.from_sequences(
        {"x": rows}, np.zeros((64, 2)), [str(i) for i in range(64)], {"x": 12}
    )
    head = build_head("mlp", [FeatureSpec("x", 8, 12)], ["a", "b"], {"hidden": 16})
    history = contrastive_finetune(head, data, ContrastiveConfig(epochs=2, device="cuda"))
    assert all(np.isfinite(history))
    assert embed_all(head, data, device="cuda").shape == (64, 16)
