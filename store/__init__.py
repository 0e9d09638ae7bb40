"""The feature store: the contract between extraction and the heads (see docs/contracts.md)."""

from cinefeat.store.rows import FeatureRows

__all__ = ["FeatureRows"]
