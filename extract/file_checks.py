"""Is this file plausibly what its name says? Magic bytes per published weights format.

Why: an entry without a published checksum records the hash of its first download, so whatever
lands first is trusted forever. Servers answer errors with bodies (an HTML page with status 200,
an Azure/S3 XML `<Error>` document), and a cut connection leaves a prefix; each of these fails the
format's own signature long before a loader would have said something confusing about it.

Signatures used (from each format's specification):
- zip (PyTorch >= 1.6 `torch.save`, `.npz`): local file header `PK\\x03\\x04`
  (PKWARE APPNOTE 4.3.7).
- pickle (PyTorch < 1.6 legacy container, plain pickles): the PROTO opcode `\\x80` then the
  protocol number 2..5 (CPython `Lib/pickletools.py`).
- safetensors: 8-byte little-endian header length N, then N bytes of JSON that must begin with
  `{` (huggingface/safetensors README, "Format").
- HDF5 (Keras `.h5`): `\\x89HDF\\r\\n\\x1a\\n` at byte 0 or at 512 * 2**k (HDF5 File Format
  Specification, "Format Signature").
- JSON files must parse.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

TORCH_SUFFIXES = (".pt", ".pth", ".ckpt", ".pkl")
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
MAX_JSON_BYTES = 256 << 20


def content_problem(path: Path, filename: str, format: str = "") -> str | None:
    """Why `path` cannot be the published `filename` (in the entry's `format`), or None."""
    size = path.stat().st_size
    if size == 0:
        return "the file is empty"
    with open(path, "rb") as handle:
        head = handle.read(4096)
    page = _error_page(head, filename)
    if page:
        return page
    suffix = Path(filename).suffix.lower()
    if suffix == ".safetensors":
        return _safetensors_problem(head, size)
    if suffix in (".h5", ".hdf5"):
        return _hdf5_problem(path, size)
    if suffix == ".json":
        return _json_problem(path, size)
    torch_tar = filename.lower().endswith(".pth.tar")  # Places365's training checkpoints
    if suffix in TORCH_SUFFIXES or torch_tar or (suffix == ".bin" and "ctranslate2" not in format):
        return _torch_problem(head)
    if suffix == ".npz":
        return None if head.startswith(b"PK\x03\x04") else "not a zip file (an .npz is a zip)"
    return None


def _error_page(head: bytes, filename: str) -> str | None:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "it is an HTML page (a server error or login page), not the file"
    if text.startswith(b"<?xml") and not filename.lower().endswith(".xml"):
        return "it is an XML document (a storage server's error answer), not the file"
    return None


def _torch_problem(head: bytes) -> str | None:
    if head.startswith(b"PK\x03\x04"):
        return None
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return None
    if len(head) >= 262 and head[257:262] == b"ustar":
        return None  # the tar container of torch < 0.4 `torch.save`
    return "not a PyTorch checkpoint (neither a zip nor a pickle)"


def _safetensors_problem(head: bytes, size: int) -> str | None:
    if len(head) < 9:
        return "too short for a safetensors file"
    (header_length,) = struct.unpack("<Q", head[:8])
    if header_length + 8 > size:
        return f"safetensors header claims {header_length} bytes but the file has {size}"
    if head[8:9] != b"{":
        return "not a safetensors file (its header is not JSON)"
    return None


def _hdf5_problem(path: Path, size: int) -> str | None:
    offset = 0
    with open(path, "rb") as handle:
        while offset + len(HDF5_SIGNATURE) <= size:
            handle.seek(offset)
            if handle.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
                return None
            offset = 512 if offset == 0 else offset * 2
    return "not an HDF5 file (no HDF5 signature)"


def _json_problem(path: Path, size: int) -> str | None:
    if size > MAX_JSON_BYTES:
        return f"a {size}-byte JSON file is not plausible"
    try:
        json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return f"not valid JSON ({error})"
    return None
