"""The training loop's CUDA path: fp16 autocast + gradient scaling for every head (GPU only)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from fuse_helpers import LABELS, SMALL_CONFIGS, tiny_data, tiny_specs

from cinefeat.fuse.data import fit_normalization
from cinefeat.fuse.heads import HEADS, Head, build_head
from cinefeat.fuse.train import TrainConfig, Trainer, predict_proba

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("name", sorted(HEADS))
def test_every_head_trains_under_amp_on_cuda(name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    head = build_head(name, tiny_specs(), LABELS, SMALL_CONFIGS[name])
    train, val = tiny_data(64), tiny_data(24, seed=2)
    head.normalization = fit_normalization(train)
    config = TrainConfig(epochs=3, lr=3e-3, batch_size=16, pos_weight=1.0, device="cuda")
    trainer = Trainer(head, train, val, config, tmp_path)
    assert trainer.amp  # autocast + GradScaler are on for CUDA by default
    result = trainer.fit()
    assert next(head.parameters()).is_cuda
    assert all(np.isfinite(h["loss"]) for h in result.history)
    scores = predict_proba(head, val)
    assert scores.shape == (24, 3) and np.isfinite(scores).all()
    loaded = Head.from_pretrained(tmp_path, device="cpu")
    np.testing.assert_allclose(predict_proba(loaded, val), scores, atol=1e-4)
