"""Which time steps a transformer head's <CLS> token attends to: the data behind `--explain`.

Why the last layer's attention: it is what the <CLS> output (the trailer embedding the classifier
reads) is computed from, it costs one forward pass, and with the 1-2 layer heads of this project it
is close to attention rollout. The weights are averaged over attention heads and read with a hook
on each encoder's last `nn.MultiheadAttention` (PyTorch's fused inference path skips the module,
so the pass runs with autograd on, which disables that path).

Supported: heads that declare `attention_layout` (the registry says which): `joint` (one sequence:
<CLS>, then per feature a <SEP> and its steps, as in `single-transformer`) and `per-feature` (one
encoder with its own <CLS> per sequential feature, as in `multi-transformer`; averaged features
have no steps to explain).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from cinefeat.fuse.data import DataError, prepare_inputs
from cinefeat.fuse.heads import HEADS, Head
from cinefeat.fuse.predict import pad_for_head
from cinefeat.store.errors import CinefeatError


def explainable() -> list[str]:
    """The heads whose <CLS> attention `--explain` can read (asked of each registered head)."""
    return [name for name, cls in sorted(HEADS.items()) if cls.attention_layout is not None]


class ExplainError(CinefeatError, ValueError):
    """A head whose attention cannot be read as per-step importance."""


def _last_attention(encoder: nn.TransformerEncoder) -> nn.MultiheadAttention:
    return encoder.layers[-1].self_attn


class _Capture:
    """Forces `need_weights=True` on one attention module and keeps its (B, T, T) weights."""

    def __init__(self, module: nn.MultiheadAttention) -> None:
        self.weights: Tensor | None = None
        self.handles = [
            module.register_forward_pre_hook(self._pre, with_kwargs=True),
            module.register_forward_hook(self._post),
        ]

    @staticmethod
    def _pre(module: nn.Module, args: tuple, kwargs: dict[str, Any]) -> tuple[tuple, dict]:
        return args, {**kwargs, "need_weights": True, "average_attn_weights": True}

    def _post(self, module: nn.Module, args: tuple, output: tuple[Tensor, Tensor]) -> None:
        self.weights = output[1].detach()

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def cls_attention(
    head: Head, inputs: dict[str, Tensor], masks: dict[str, Tensor]
) -> dict[str, Tensor]:
    """{feature: (B, L_f)} attention of the <CLS> token on each real step (0 on padding).

    `inputs`/`masks` as the head takes them (padded, standardised: see `attention_arrays`).
    """
    if head.attention_layout is None:
        raise ExplainError(
            f"--explain reads <CLS> attention, which the {head.name!r} head does not have: use "
            f"one of {', '.join(explainable())}"
        )
    sequential = [s for s in head.features if not s.averaged]
    if not sequential:
        raise ExplainError("every feature of this head is averaged over time: no steps to explain")
    if head.attention_layout == "joint":
        captures = {"*": _Capture(_last_attention(head.encoder))}
    else:
        captures = {
            s.name: _Capture(_last_attention(head.branches[s.name].encoder)) for s in sequential
        }
    was_training = head.training
    head.eval()
    try:
        with torch.enable_grad():  # see module docstring: keeps the hooked module in the path
            head(inputs, masks)
    finally:
        for capture in captures.values():
            capture.remove()
        head.train(was_training)
    out: dict[str, Tensor] = {}
    if head.attention_layout == "joint":
        row = captures["*"].weights[:, 0]  # (B, T) attention of <CLS>
        position = 1
        for spec in head.features:
            length = inputs[spec.name].shape[1]
            position += 1  # the feature's <SEP>
            if not spec.averaged:
                out[spec.name] = row[:, position : position + length] * masks[spec.name]
            position += length
    else:
        for spec in sequential:
            row = captures[spec.name].weights[:, 0, 1:]
            out[spec.name] = row * masks[spec.name]
    return out


@torch.no_grad()
def _padded(head: Head, features: Mapping[str, Sequence[np.ndarray]]):
    data = pad_for_head(head, features)  # the padding `predict` and `evaluate` use
    data.require_finite("its attention cannot be explained")
    device = next(head.parameters()).device
    return prepare_inputs(data.values, data.masks, head.normalization, device)


def attention_arrays(
    head: Head, features: Mapping[str, Sequence[np.ndarray]]
) -> dict[str, list[np.ndarray]]:
    """Like `predict_arrays`, for attention: {feature: [weights (n_i,) per trailer]}.

    Every real step has a weight, also those past the head's training max length (the head
    reads whole trailers, as `predict` does). A seed ensemble (`--ensemble K`) gives the mean of
    its members' weights, as `predict` gives the mean of their probabilities.
    """
    missing = [f for f in head.feature_names if f not in features]
    if missing:
        raise DataError(f"head needs features {head.feature_names}; missing {missing}")
    members = [head, *head.ensemble_members]
    each = [cls_attention(member, *_padded(member, features)) for member in members]
    weights = {name: torch.stack([w[name] for w in each]).mean(dim=0) for name in each[0]}
    out: dict[str, list[np.ndarray]] = {}
    for name, matrix in weights.items():
        matrix = matrix.float().cpu().numpy()
        out[name] = []
        for row, rows in zip(matrix, features[name], strict=True):
            full = np.zeros(len(rows), dtype=np.float32)
            kept = min(len(rows), len(row))
            full[:kept] = row[:kept]
            out[name].append(full)
    return out
