"""Typed errors of the feature store, and `CinefeatError`, the base of every user-facing error.

Why one base: `cinefeat.cli.main` catches `CinefeatError` once, prints `error: <message>` (the
message names the fix; the traceback only with `-v`) and exits with the error's `exit_code`
(docs/cli.md). An exception that is not a `CinefeatError` is a bug and keeps its traceback. It
lives in `store` because every package may import `store` (cli -> {extract, fuse} -> store).
"""

from __future__ import annotations

from cinefeat.store.exit_codes import EXIT_ERROR


class CinefeatError(Exception):
    """Base class of the errors a user can fix; `exit_code` is what `cinefeat` exits with.

    Subclasses keep their builtin base too (`class DataError(CinefeatError, ValueError)`), so code
    that catches `ValueError` or `KeyError` goes on catching them.
    """

    exit_code: int = EXIT_ERROR


class StoreError(CinefeatError):
    """Base class: something about a store that the user can fix."""


class NotAStoreError(StoreError):
    """The path exists but is not a cinefeat store (or does not exist when opening)."""


class StoreFormatError(StoreError):
    """The store was written by a newer, unknown format version, or its metadata is damaged."""


class ReadOnlyStoreError(StoreError):
    """A write was attempted on a store opened read-only (e.g. a `.zip` archive)."""


class FeatureDeclarationError(StoreError):
    """A feature was used before `declare_feature`, or redeclared with different provenance."""


class RowsError(StoreError):
    """Rows handed to a writer do not fit the declared feature (dim, dtype, duplicates)."""


class LabelError(StoreError):
    """Labels or splits refer to unknown label names or are inconsistent."""


class Hdf5FormatError(StoreError):
    """An HDF5 file does not follow the cinefeat layout and cannot be imported."""


class StoreIntegrityError(StoreFormatError):
    """Committed data does not match what its commit recorded (a digest, the offsets, a dtype):
    the message names the part, feature and trailer; never returned as rows."""


# What every command that needs labels says when a store has none. Labels enter a store through
# `cinefeat extract --labels` (merged into those already there); a rerun on an extracted dataset
# skips the trailers already written, so it only adds the labels.
NO_LABELS = (
    "the store has no labels: add them with `cinefeat extract DATASET --store STORE "
    "--features SAME_FEATURES --labels FILE` (trailers already extracted are not extracted again)"
)
