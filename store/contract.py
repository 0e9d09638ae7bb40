"""The store contract as types: what extraction writes through and what heads read from.

Why protocols: two classes implement the contract (`FeatureStore` on zarr, `MemoryStore` for
`cinefeat predict`), and code in `extract` and `fuse` must work with either without importing
both or checking which one it got. `mypy` checks that both classes satisfy these protocols
(`tests/store/test_contract.py` holds the assignments it checks, and runs the same calls on
both at run time), so a method added to one and not the other is caught before a user finds it.

- `StoreReader`: trailers, records, provenance and rows (`cinefeat predict` and the heads).
- `StoreWriter`: declare features, add trailers, commit (one writer per process).
- `ExtractionStore`: what an extraction run needs: the reads it resumes from, plus `writer()`.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Protocol, runtime_checkable

from cinefeat.store.record import TrailerRecord
from cinefeat.store.rows import FeatureRows


@runtime_checkable
class StoreReader(Protocol):
    def refresh(self) -> None:
        """Re-read what other writers committed since the store was opened."""

    def ids(self, status: str | None = None) -> list[str]: ...

    def record(self, trailer_id: str) -> TrailerRecord: ...

    def features(self) -> list[str]: ...

    def provenance(self, feature: str) -> dict[str, Any]: ...

    def has(self, trailer_id: str, feature: str) -> bool: ...

    def get(self, trailer_id: str, feature: str) -> FeatureRows: ...

    def texts(self, trailer_id: str, feature: str) -> list[dict[str, Any]]: ...

    def run_configs(self) -> dict[str, dict[str, Any]]: ...


@runtime_checkable
class StoreWriter(Protocol):
    def declare_feature(
        self,
        name: str,
        provenance: dict[str, Any],
        dim: int,
        dtype: str = "float16",
        row_chunk: int | None = None,
    ) -> None: ...

    def add(self, record: TrailerRecord, features: dict[str, FeatureRows] | None = None) -> None:
        """Queue one complete trailer: its record and any of its declared features."""

    @property
    def pending(self) -> int: ...

    def commit(self) -> int:
        """Make every trailer added since the last commit visible; -> how many."""

    def close(self) -> None: ...

    def __enter__(self) -> StoreWriter: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class ExtractionStore(StoreReader, Protocol):
    @property
    def path(self) -> Any:
        """Where the store lives (None in memory)."""

    def writer(
        self,
        run: str,
        worker: str = "0",
        part: str | None = None,
        *,
        run_config: dict[str, Any] | None = None,
    ) -> StoreWriter: ...
