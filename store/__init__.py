"""The feature store: the contract between extraction and the heads (see docs/contracts.md).

Format: docs/store-format.md. Importing this package needs only the base install (numpy, zarr);
the errors are imported at once, the store classes on first use (`store.lazy`), so a command that
only names an error type (every CLI module) does not import zarr.
"""

from typing import TYPE_CHECKING

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
from cinefeat.store.lazy import lazy_exports

if TYPE_CHECKING:
    from cinefeat.store.feature_store import FeatureStore
    from cinefeat.store.record import TrailerRecord
    from cinefeat.store.rows import FeatureRows
    from cinefeat.store.writer import StoreWriter

_LAZY = {
    "FeatureRows": "cinefeat.store.rows",
    "FeatureStore": "cinefeat.store.feature_store",
    "StoreWriter": "cinefeat.store.writer",
    "TrailerRecord": "cinefeat.store.record",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())

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
