"""Publication metadata: read from a YAML or TOML file, checked, turned into Zenodo's JSON.

Checking locally, before any upload, is the point: Zenodo only rejects incomplete metadata at
publish time, after the files are up. Fields follow Zenodo's deposition metadata
(https://developers.zenodo.org/#representation) with friendlier spellings accepted:

    title: "Trailer features (CLIP, PANNs)"
    creators:
      - {name: "Doe, Jane", affiliation: "Some University", orcid: "0000-0002-1825-0097"}
    license: cc-by-4.0
    keywords: [movie trailers, genre]
    version: "1.0"
    related_identifiers:
      - {identifier: "10.1109/ACCESS.2024.1234567", relation: isSupplementTo}

`description` defaults to the archive's data card (README.md) rendered as HTML.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from cinefeat.store.zenodo.errors import ZenodoMetadataError

ORCID = re.compile(r"^\d{4}-\d{4}-\d{4}-\d{3}[\dX]$")
REQUIRED = ("title", "creators", "license")
PASSTHROUGH = (
    "title",
    "version",
    "keywords",
    "notes",
    "communities",
    "grants",
    "language",
    "publication_date",
    "access_right",
    "doi",
    "references",
)


def read_metadata_file(path: str | Path) -> dict[str, Any]:
    """The mapping in a `.yaml`/`.yml` or `.toml` metadata file."""
    path = Path(path)
    if not path.is_file():
        raise ZenodoMetadataError(f"metadata file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            try:
                import tomli as tomllib  # type: ignore[no-redef]
            except ModuleNotFoundError as error:
                raise ZenodoMetadataError(
                    "reading TOML on Python 3.10 needs tomli: pip install tomli (or use YAML)"
                ) from error
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ZenodoMetadataError(f"{path} is not valid TOML: {error}") from error
    elif path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ZenodoMetadataError(f"{path} is not valid YAML: {error}") from error
    else:
        raise ZenodoMetadataError(f"{path}: metadata must be a .yaml, .yml or .toml file")
    if not isinstance(data, dict):
        raise ZenodoMetadataError(f"{path} must hold a mapping (title: ..., creators: ...)")
    return data


def _creator(item: Any, index: int) -> dict[str, str]:
    if not isinstance(item, dict) or not str(item.get("name", "")).strip():
        raise ZenodoMetadataError(
            f"creators[{index}] needs a name, written 'Family, Given' "
            "(e.g. {name: 'Doe, Jane', affiliation: 'Uni', orcid: '0000-0002-1825-0097'})"
        )
    creator = {"name": str(item["name"]).strip()}
    if item.get("affiliation"):
        creator["affiliation"] = str(item["affiliation"])
    if item.get("orcid"):
        orcid = str(item["orcid"]).removeprefix("https://orcid.org/")
        if not ORCID.match(orcid):
            raise ZenodoMetadataError(
                f"creators[{index}] ({creator['name']}): ORCID {item['orcid']!r} is not of the "
                "form 0000-0002-1825-0097"
            )
        creator["orcid"] = orcid
    return creator


def _related(item: Any, index: int) -> dict[str, str]:
    if not isinstance(item, dict) or not item.get("identifier") or not item.get("relation"):
        raise ZenodoMetadataError(
            f"related_identifiers[{index}] needs identifier and relation "
            "(e.g. {identifier: '10.5281/zenodo.123', relation: isSupplementTo})"
        )
    related = {"identifier": str(item["identifier"]), "relation": str(item["relation"])}
    if item.get("resource_type"):
        related["resource_type"] = str(item["resource_type"])
    return related


def markdown_to_html(text: str) -> str:
    """Just enough Markdown for a data card in Zenodo's HTML description: headings, paragraphs,
    and everything else kept verbatim in <pre> blocks so tables stay readable."""
    blocks = [b for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    out = []
    for block in blocks:
        heading = re.match(r"^(#{1,6})\s+(.*)$", block)
        if heading and "\n" not in block:
            level = min(len(heading.group(1)) + 1, 6)
            out.append(f"<h{level}>{html.escape(heading.group(2))}</h{level}>")
        elif any(line.startswith(("|", "```", "- ")) for line in block.splitlines()):
            out.append(f"<pre>{html.escape(block)}</pre>")
        else:
            out.append(f"<p>{html.escape(block)}</p>")
    return "\n".join(out)


def zenodo_metadata(data: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    """Validated Zenodo deposition metadata (upload_type dataset) from the user's mapping."""
    missing = [key for key in REQUIRED if not data.get(key)]
    if missing:
        raise ZenodoMetadataError(
            f"metadata is missing {', '.join(missing)}: add them to the metadata file "
            "(see docs/publishing.md for an example)"
        )
    creators = data["creators"]
    if not isinstance(creators, list):
        raise ZenodoMetadataError("creators must be a list of {name, affiliation, orcid}")
    metadata: dict[str, Any] = {key: data[key] for key in PASSTHROUGH if data.get(key)}
    metadata["upload_type"] = "dataset"
    metadata["creators"] = [_creator(item, i) for i, item in enumerate(creators)]
    metadata["license"] = str(data["license"])
    metadata["description"] = data.get("description") or description or data["title"]
    related = data.get("related_identifiers") or []
    metadata["related_identifiers"] = [_related(item, i) for i, item in enumerate(related)]
    if "keywords" in metadata and not isinstance(metadata["keywords"], list):
        raise ZenodoMetadataError("keywords must be a list of strings")
    if "version" in metadata:
        metadata["version"] = str(metadata["version"])
    return metadata
