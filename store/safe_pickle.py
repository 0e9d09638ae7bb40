"""Reading published pickles without running their code: a restricted unpickler.

Why: a pickle names functions that the loader calls (`__reduce__`), so `pickle.load` on a
downloaded file runs whatever its author, or whoever altered it, chose. Published releases are
pickles anyway (Sulun et al.'s `features.pkl`, PyTorch checkpoints, torchvggish's PCA file), so
every pickle cinefeat reads goes through one of two doors here, and both admit only what
rebuilding plain data needs; any other global is refused with an error naming it and the file.

- `torch_load`: files written by `torch.save` (checkpoints), read by torch's own restricted
  unpickler (`weights_only=True`), optionally admitting numpy arrays and dtypes.
- `load_pickle`: files written by `pickle.dump` (plain pickles holding numpy arrays and torch
  tensors). Containers, numbers and strings need no global; numpy arrays, dtypes and scalars
  (numpy 1 and numpy 2 spellings, protocols 2 to 5), torch tensors and `collections.OrderedDict`
  are admitted. A torch storage pickled by `pickle.dump` carries its bytes as a small legacy
  `torch.save` file and names `torch.storage._load_from_bytes`, which would read it with a full
  unpickle; here those bytes go through `torch.load(weights_only=True)` instead.

Lives in store/ because importers (store) and the extractors' checkpoint loading (extract) both
need it; `extract.nets.runtime` re-exports what it used to define.
"""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np

from cinefeat.store.errors import StoreError


class UnsafePickleError(StoreError, pickle.UnpicklingError):
    """A pickle asks for a global outside the allowed set; the message names it and the file."""


class PickleReadError(StoreError):
    """A pickle could not be read (truncated, not a pickle); the message names the file."""


DTYPE_NAMES = (
    "float16", "float32", "float64", "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64", "bool",
)  # fmt: skip


def numpy_globals() -> list[Any]:
    """numpy arrays and dtypes for `torch.serialization.safe_globals`, under numpy 2's module
    spelling *and* numpy 1's.

    Files pickled before numpy 2 (torchvggish's PCA file, PANNs' training checkpoints with their
    sampler state) name `numpy.core.multiarray._reconstruct`; numpy 2 moved it to `numpy._core`.
    torch's restricted unpickler matches globals by name, so each is admitted under both names.
    `bytes` too: an empty array pickled at protocol 2 (torch.save's default) rebuilds its empty
    buffer with `builtins.bytes` (constructing bytes runs no code).
    """
    multiarray = getattr(np, "_core", np).multiarray
    dtype_classes = [type(np.dtype(name)) for name in DTYPE_NAMES]
    globals_: list[Any] = [np.ndarray, np.dtype, bytes, *dtype_classes]
    for package in ("numpy.core", "numpy._core"):
        globals_.append((multiarray._reconstruct, f"{package}.multiarray._reconstruct"))
        globals_.append((multiarray.scalar, f"{package}.multiarray.scalar"))
    return globals_


def path_globals() -> list[Any]:
    """`pathlib` paths for `torch_load(extra_globals=...)`, rebuilt as plain strings.

    Training scripts save their argparse namespace with `torch.save(vars(args))`, and output
    folders in it are `PosixPath`s (Sulun et al.'s `config.pt`). A path pickles as its class and
    its string parts; the stand-in joins the parts into text, so no pathlib code runs and the
    loaded config holds a `str` where the file held a path. Python 3.13 spells the class
    `pathlib._local.*`, so both spellings are admitted.
    """
    from pathlib import PurePosixPath, PureWindowsPath

    def posix(*parts: Any) -> str:
        return _path_text(PurePosixPath, parts)

    def windows(*parts: Any) -> str:
        return _path_text(PureWindowsPath, parts)

    kinds = {"PosixPath": posix, "PurePosixPath": posix}
    kinds.update(WindowsPath=windows, PureWindowsPath=windows)
    return [
        (function, f"{module}.{name}")
        for module in ("pathlib", "pathlib._local")
        for name, function in kinds.items()
    ]


def _path_text(kind: Any, parts: tuple[Any, ...]) -> str:
    if not all(isinstance(part, str) for part in parts):
        raise UnsafePickleError("a pickled path was given parts that are not strings")
    return str(kind(*parts))


def torch_load(
    path: str | Path, allow_numpy: bool = False, extra_globals: Sequence[Any] = ()
) -> Any:
    """`torch.load(weights_only=True)` on the CPU: tensors, containers and numbers, no code runs.

    `allow_numpy` also admits numpy arrays, dtypes and scalars (see `numpy_globals`);
    `extra_globals` more entries in `torch.serialization.safe_globals` form (e.g. `path_globals`).
    Raises `UnsafePickleError` (a refused global, named) or `PickleReadError` (anything else),
    both naming the file.
    """
    import torch

    admitted = [*(numpy_globals() if allow_numpy else []), *extra_globals]
    try:
        if not admitted:
            return torch.load(path, map_location="cpu", weights_only=True)
        with torch.serialization.safe_globals(admitted):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:  # torch's message names the refused global
        raise UnsafePickleError(f"{path}: refused by the restricted unpickler ({error})") from error
    except Exception as error:
        raise PickleReadError(f"{path} could not be read as a PyTorch file ({error})") from error


def _storage_from_bytes(data: bytes) -> Any:
    """What `torch.storage._load_from_bytes` returns, read with torch's restricted unpickler."""
    import torch

    if not isinstance(data, (bytes, bytearray)):
        raise UnsafePickleError("torch.storage._load_from_bytes was given something not bytes")
    try:
        return torch.load(io.BytesIO(bytes(data)), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise UnsafePickleError(f"a pickled torch storage was refused ({error})") from error


def _rebuild_tensor(*args: Any) -> Any:
    import torch

    storage = args[0]
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise UnsafePickleError("torch._utils._rebuild_tensor_v2 was given something not a storage")
    return torch._utils._rebuild_tensor_v2(*args)


def _frombuffer(buffer: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
    """numpy's protocol-5 array rebuild (`numpy._core.numeric._frombuffer`), with checked types."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise UnsafePickleError(f"an array of dtype {dtype!r} is refused (only plain dtypes)")
    if order not in ("C", "F"):
        raise UnsafePickleError(f"an array of memory order {order!r} is refused (only C or F)")
    layout: Literal["C", "F"] = "F" if order == "F" else "C"
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order=layout)


def _reconstruct(cls: Any, shape: Any, dtype_char: Any) -> np.ndarray:
    if cls is not np.ndarray:
        raise UnsafePickleError(f"numpy _reconstruct of {cls!r} is refused (only numpy.ndarray)")
    return np.ndarray.__new__(np.ndarray, shape, dtype_char)


def _dtype(*args: Any) -> np.dtype:
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise UnsafePickleError(f"numpy dtype {dtype!r} is refused: object arrays run code")
    return dtype


def _scalar(dtype: Any, *data: Any) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise UnsafePickleError(f"a numpy scalar of dtype {dtype!r} is refused")
    return getattr(np, "_core", np).multiarray.scalar(dtype, *data)


def _encode(text: str, encoding: str = "utf-8") -> bytes:
    """`_codecs.encode`: protocol 2 writes bytes as latin-1 text encoded back."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise UnsafePickleError(f"_codecs.encode({type(text).__name__}, {encoding!r}) is refused")
    return text.encode(encoding)


def _allowed() -> dict[tuple[str, str], Callable[..., Any]]:
    allowed: dict[tuple[str, str], Callable[..., Any]] = {
        ("collections", "OrderedDict"): OrderedDict,
        ("builtins", "bytes"): bytes,
        ("__builtin__", "bytes"): bytes,
        ("builtins", "bytearray"): bytearray,
        ("_codecs", "encode"): _encode,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): _dtype,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
    }
    for package in ("numpy.core", "numpy._core"):  # numpy 1 and numpy 2 spellings
        allowed[(f"{package}.multiarray", "_reconstruct")] = _reconstruct
        allowed[(f"{package}.multiarray", "scalar")] = _scalar
        allowed[(f"{package}.numeric", "_frombuffer")] = _frombuffer
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
    """`pickle.Unpickler` whose `find_class` answers only from the allowed table (see module).

    ndarray state (`__setstate__`) is admitted only for arrays of plain dtypes: `_reconstruct`
    builds an empty ndarray and BUILD fills it from bytes, and an object dtype is refused first.
    """

    def __init__(self, file: IO[bytes], name: str = "<pickle>") -> None:
        super().__init__(file)
        self.name = name
        self._allowed = _allowed()

    def find_class(self, module: str, name: str) -> Any:
        found = self._allowed.get((module, name))
        if found is None:
            raise UnsafePickleError(
                f"{self.name}: the pickle asks for global {module}.{name}, which the restricted "
                "unpickler refuses (only numpy arrays, torch tensors and plain containers are "
                "read); this file is not the published release, or was altered"
            )
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"{self.name}: persistent ids are refused ({pid!r:.60})")


def load_pickle(source: str | Path | IO[bytes]) -> Any:
    """The object in a `pickle.dump` file, rebuilt by `RestrictedUnpickler`.

    Raises `UnsafePickleError` for a refused global and `PickleReadError` for a truncated or
    damaged file, both naming it.
    """
    if isinstance(source, (str, Path)):
        with open(source, "rb") as handle:
            return _load(handle, str(source))
    return _load(source, getattr(source, "name", "<pickle>"))


def _load(handle: IO[bytes], name: str) -> Any:
    try:
        return RestrictedUnpickler(handle, name).load()
    except UnsafePickleError as error:
        if name in str(error):
            raise
        raise UnsafePickleError(f"{name}: {error}") from error
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError, MemoryError) as error:
        raise PickleReadError(
            f"{name} is not a complete pickle ({type(error).__name__}: {error}): the file is "
            "truncated or damaged; download it again and compare its checksum"
        ) from error
