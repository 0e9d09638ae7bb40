"""The feature store: the contract between extraction and the heads (see docs/contracts.md).

Format: docs/store-format.md. Importing this package needs only the base install (numpy, zarr).
"""

from cinefeat.store.errors import (
    FeatureDeclarationError,
    Hdf5FormatError,
    LabelError,
    NotAStoreError,
    ReadOnlyStoreError,
    RowsError,
    StoreError,
    StoreFormatError,
)
from cinefeat.store.feature_store import FeatureStore
from cinefeat.store.record import TrailerRecord
from cinefeat.store.rows import FeatureRows
from cinefeat.store.writer import StoreWriter

__all__ = [
    "FeatureDeclarationError",
    "FeatureRows",
    "FeatureStore",
    "Hdf5FormatError",
    "LabelError",
    "NotAStoreError",
    "ReadOnlyStoreError",
    "RowsError",
    "StoreError",
    "StoreFormatError",
    "StoreWriter",
    "TrailerRecord",
]
