"""What the paper-reproduction scripts share: train one head on a store split, score its test set.

Imported by path, as `bench_env.py` (`python benchmarks/reproduce_*.py` puts this folder first on
sys.path). It calls the same Python API as `cinefeat train` / `cinefeat evaluate`
(`cinefeat.fuse.runs.load_split` + `train_head`, `cinefeat.fuse.metrics.evaluate` on the split's
test trailers), so a reproduction is what those commands would give with the same options.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Protocol:
    """One training run as a paper describes it: head, inputs, split and optimiser settings."""

    head: str
    features: list[str]
    split: str
    max_len: dict[str, int] | str = "whisker"
    average: list[str] = field(default_factory=list)
    normalize: bool = False
    head_options: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)


def run(store_path: str | Path, protocol: Protocol, out: str | Path) -> dict[str, float]:
    """Train `protocol` on the store's split, save the head in `out`; the test metrics."""
    from cinefeat.fuse.metrics import evaluate
    from cinefeat.fuse.runs import DataOptions, load_split, train_config, train_head
    from cinefeat.fuse.train import predict_proba
    from cinefeat.store import FeatureStore

    store = FeatureStore.open(str(store_path))
    options = DataOptions(
        features=protocol.features,
        split=protocol.split,
        max_len=protocol.max_len,
        average=protocol.average,
        normalize=protocol.normalize,
    )
    data = load_split(store, options, protocol.head)
    config = train_config(**protocol.train)
    head, _ = train_head(
        store, data, options, protocol.head, dict(protocol.head_options), config, out
    )
    if len(data.test) == 0:
        raise SystemExit(f"split {protocol.split!r} of {store_path} has no test trailers")
    scores = predict_proba(head, data.test)
    return evaluate(data.test.labels.numpy(), scores, head.label_names).summary


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample std (ddof 1, as DIViTA's `compute_mean_std`); std 0 for one value."""
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return math.nan, math.nan
    mean = sum(finite) / len(finite)
    if len(finite) == 1:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in finite) / (len(finite) - 1))


def percent(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{100 * value:.2f}"
