"""Publication metadata: read from a YAML or TOML file, checked, turned into Zenodo's JSON.

Checking locally, before any request, is the point: Zenodo rejects bad metadata only when it is
sent, and a refusal after hours of uploading is the worst moment. Every field of Zenodo's deposit
metadata (https://developers.zenodo.org/#representation, "Deposit metadata") is accepted and passed
through; the closed vocabularies of that page (`upload_type`, `publication_type`, `image_type`,
`access_right`, relation types, contributor types, date types) are checked here, with the rules
Zenodo enforces between fields (an embargo needs `embargo_date`, restricted access needs
`access_conditions`, open and embargoed records need a licence). Licence ids, communities and
grants are open vocabularies that cannot be known offline: Zenodo checks them when the metadata
is sent, which `publish_archive` does before uploading any file.

    title: "Trailer features (CLIP, PANNs)"
    creators:
      - {name: "Doe, Jane", affiliation: "Some University", orcid: "0000-0002-1825-0097"}
    license: cc-by-4.0
    publication_date: 2024-05-01          # unquoted dates are fine
    access_right: embargoed
    embargo_date: 2025-01-01
    related_identifiers:
      - {identifier: "10.1109/ACCESS.2024.1234567", relation: isSupplementTo}

`description` defaults to the archive's data card (README.md) rendered as HTML.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path
from typing import Any

from cinefeat.store.zenodo.errors import ZenodoMetadataError

ORCID = re.compile(r"^\d{4}-\d{4}-\d{4}-\d{3}[\dX]$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LANGUAGE = re.compile(r"^[a-z]{3}$")  # ISO 639-2 or 639-3 code, as the docs ask

# The vocabularies below are those of https://developers.zenodo.org/#representation
# ("Deposit metadata" table).
UPLOAD_TYPES = (
    "publication", "poster", "presentation", "dataset", "image", "video", "software", "lesson",
    "physicalobject", "other",
)  # fmt: skip
PUBLICATION_TYPES = (
    "annotationcollection", "book", "section", "conferencepaper", "datamanagementplan",
    "article", "patent", "preprint", "deliverable", "milestone", "proposal", "report",
    "softwaredocumentation", "taxonomictreatment", "technicalnote", "thesis", "workingpaper",
    "other",
)  # fmt: skip
IMAGE_TYPES = ("figure", "plot", "drawing", "diagram", "photo", "other")
ACCESS_RIGHTS = ("open", "embargoed", "restricted", "closed")
RELATIONS = (
    "isCitedBy", "cites", "isSupplementTo", "isSupplementedBy", "isContinuedBy", "continues",
    "isDescribedBy", "describes", "hasMetadata", "isMetadataFor", "isNewVersionOf",
    "isPreviousVersionOf", "isPartOf", "hasPart", "isReferencedBy", "references",
    "isDocumentedBy", "documents", "isCompiledBy", "compiles", "isVariantFormOf",
    "isOriginalFormof", "isIdenticalTo", "isAlternateIdentifier", "isReviewedBy", "reviews",
    "isDerivedFrom", "isSourceOf", "requires", "isRequiredBy", "isObsoletedBy", "obsoletes",
)  # fmt: skip
CONTRIBUTOR_TYPES = (
    "ContactPerson", "DataCollector", "DataCurator", "DataManager", "Distributor", "Editor",
    "HostingInstitution", "Producer", "ProjectLeader", "ProjectManager", "ProjectMember",
    "RegistrationAgency", "RegistrationAuthority", "RelatedPerson", "Researcher",
    "ResearchGroup", "RightsHolder", "Supervisor", "Sponsor", "WorkPackageLeader", "Other",
)  # fmt: skip
DATE_TYPES = ("Collected", "Valid", "Withdrawn")
DATE_FIELDS = ("publication_date", "embargo_date")
# Fields passed through as given (after date serialisation); the others are built below.
PASSTHROUGH = (
    "title", "version", "keywords", "notes", "communities", "grants", "language",
    "publication_date", "access_right", "embargo_date", "access_conditions", "doi",
    "prereserve_doi", "references", "subjects", "locations", "dates", "method",
    "journal_title", "journal_volume", "journal_issue", "journal_pages", "conference_title",
    "conference_acronym", "conference_dates", "conference_place", "conference_url",
    "conference_session", "conference_session_part", "imprint_publisher", "imprint_isbn",
    "imprint_place", "partof_title", "partof_pages", "thesis_supervisors", "thesis_university",
)  # fmt: skip
BUILT = (
    "upload_type", "publication_type", "image_type", "creators", "contributors", "license",
    "description", "related_identifiers",
)  # fmt: skip
KNOWN_FIELDS = frozenset(PASSTHROUGH + BUILT)


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


def jsonable(value: Any) -> Any:
    """`value` with dates and times as ISO 8601 strings (YAML and TOML parse unquoted dates)."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _choice(field: str, value: Any, allowed: tuple[str, ...]) -> str:
    if str(value) not in allowed:
        raise ZenodoMetadataError(
            f"{field}: {value!r} is not one of Zenodo's values: {', '.join(allowed)}"
        )
    return str(value)


def _date(field: str, value: Any) -> str:
    if isinstance(value, dt.datetime):
        value = value.date()
    text = value.isoformat() if isinstance(value, dt.date) else str(value)
    if not ISO_DATE.match(text):
        raise ZenodoMetadataError(f"{field}: {value!r} is not a date written YYYY-MM-DD")
    try:
        dt.date.fromisoformat(text)
    except ValueError as error:
        raise ZenodoMetadataError(f"{field}: {value!r} is not a valid date ({error})") from None
    return text


def _person(item: Any, where: str, kind: str) -> dict[str, str]:
    """A creator or contributor: name, affiliation, orcid, gnd (and type for contributors)."""
    if not isinstance(item, dict) or not str(item.get("name", "")).strip():
        raise ZenodoMetadataError(
            f"{where} needs a name, written 'Family, Given' "
            "(e.g. {name: 'Doe, Jane', affiliation: 'Uni', orcid: '0000-0002-1825-0097'})"
        )
    person = {"name": str(item["name"]).strip()}
    allowed = {"name", "affiliation", "orcid", "gnd"} | (
        {"type"} if kind == "contributor" else set()
    )
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise ZenodoMetadataError(
            f"{where} ({person['name']}): unknown field(s) {', '.join(unknown)}; a {kind} has "
            f"{', '.join(sorted(allowed))}"
        )
    for key in ("affiliation", "gnd"):
        if item.get(key):
            person[key] = str(item[key])
    if item.get("orcid"):
        orcid = str(item["orcid"]).removeprefix("https://orcid.org/")
        if not ORCID.match(orcid):
            raise ZenodoMetadataError(
                f"{where} ({person['name']}): ORCID {item['orcid']!r} is not of the "
                "form 0000-0002-1825-0097"
            )
        person["orcid"] = orcid
    if kind == "contributor":
        if not item.get("type"):
            raise ZenodoMetadataError(
                f"{where} ({person['name']}) needs a type, one of: {', '.join(CONTRIBUTOR_TYPES)}"
            )
        person["type"] = _choice(f"{where}.type", item["type"], CONTRIBUTOR_TYPES)
    return person


def _creator(item: Any, index: int) -> dict[str, str]:
    return _person(item, f"creators[{index}]", "creator")


def _related(item: Any, index: int) -> dict[str, str]:
    if not isinstance(item, dict) or not item.get("identifier") or not item.get("relation"):
        raise ZenodoMetadataError(
            f"related_identifiers[{index}] needs identifier and relation "
            "(e.g. {identifier: '10.5281/zenodo.123', relation: isSupplementTo})"
        )
    related = {
        "identifier": str(item["identifier"]),
        "relation": _choice(f"related_identifiers[{index}].relation", item["relation"], RELATIONS),
    }
    if item.get("resource_type"):  # "<upload_type>" or "<upload_type>-<subtype>"
        kind = str(item["resource_type"]).split("-", 1)[0]
        _choice(f"related_identifiers[{index}].resource_type", kind, UPLOAD_TYPES)
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


def _check_rules(metadata: dict[str, Any]) -> None:
    """The rules between fields that Zenodo enforces (same docs page, "Required" column)."""
    upload = metadata["upload_type"]
    if upload == "publication" and "publication_type" not in metadata:
        raise ZenodoMetadataError(
            "upload_type publication needs publication_type, one of: "
            + ", ".join(PUBLICATION_TYPES)
        )
    if upload == "image" and "image_type" not in metadata:
        raise ZenodoMetadataError(
            f"upload_type image needs image_type, one of: {', '.join(IMAGE_TYPES)}"
        )
    access = metadata["access_right"]
    if access == "embargoed" and not metadata.get("embargo_date"):
        raise ZenodoMetadataError(
            "access_right embargoed needs embargo_date (YYYY-MM-DD, when the files open)"
        )
    if access == "restricted" and not metadata.get("access_conditions"):
        raise ZenodoMetadataError(
            "access_right restricted needs access_conditions "
            "(HTML: who may ask for access, and how)"
        )
    if access in ("open", "embargoed") and not metadata.get("license"):
        raise ZenodoMetadataError(
            f"access_right {access} needs a license (e.g. cc-by-4.0; Zenodo checks the id)"
        )


def zenodo_metadata(data: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    """Validated Zenodo deposition metadata (upload_type dataset by default) from the user's
    mapping; the result is JSON-serialisable (dates as YYYY-MM-DD)."""
    unknown = sorted(set(data) - KNOWN_FIELDS)
    if unknown:
        raise ZenodoMetadataError(
            f"unknown metadata field(s) {', '.join(unknown)}: Zenodo's deposit metadata has "
            f"{', '.join(sorted(KNOWN_FIELDS))} (https://developers.zenodo.org/#representation)"
        )
    access = str(data.get("access_right") or "open")
    required = ["title", "creators"] + (["license"] if access in ("open", "embargoed") else [])
    missing = [key for key in required if not data.get(key)]
    if missing:
        raise ZenodoMetadataError(
            f"metadata is missing {', '.join(missing)}: add them to the metadata file "
            "(see docs/publishing.md for an example)"
        )
    creators = data["creators"]
    if not isinstance(creators, list):
        raise ZenodoMetadataError("creators must be a list of {name, affiliation, orcid, gnd}")
    metadata: dict[str, Any] = {
        key: jsonable(data[key]) for key in PASSTHROUGH if data.get(key) not in (None, "", [])
    }
    for key in DATE_FIELDS:
        if data.get(key):
            metadata[key] = _date(key, data[key])
    metadata["access_right"] = _choice("access_right", access, ACCESS_RIGHTS)
    metadata["upload_type"] = _choice(
        "upload_type", data.get("upload_type") or "dataset", UPLOAD_TYPES
    )
    if data.get("publication_type"):
        metadata["publication_type"] = _choice(
            "publication_type", data["publication_type"], PUBLICATION_TYPES
        )
    if data.get("image_type"):
        metadata["image_type"] = _choice("image_type", data["image_type"], IMAGE_TYPES)
    metadata["creators"] = [_creator(item, i) for i, item in enumerate(creators)]
    contributors = data.get("contributors") or []
    if not isinstance(contributors, list):
        raise ZenodoMetadataError("contributors must be a list of {name, type, affiliation, ...}")
    if contributors:
        metadata["contributors"] = [
            _person(item, f"contributors[{i}]", "contributor")
            for i, item in enumerate(contributors)
        ]
    if data.get("license"):
        metadata["license"] = str(data["license"])
    metadata["description"] = str(data.get("description") or description or data["title"])
    related = data.get("related_identifiers") or []
    metadata["related_identifiers"] = [_related(item, i) for i, item in enumerate(related)]
    for i, item in enumerate(metadata.get("dates") or []):
        if not isinstance(item, dict) or not item.get("type"):
            raise ZenodoMetadataError(f"dates[{i}] needs a type, one of: {', '.join(DATE_TYPES)}")
        _choice(f"dates[{i}].type", item["type"], DATE_TYPES)
    if "keywords" in metadata and not isinstance(metadata["keywords"], list):
        raise ZenodoMetadataError("keywords must be a list of strings")
    if "language" in metadata and not LANGUAGE.match(str(metadata["language"])):
        raise ZenodoMetadataError(
            f"language: {metadata['language']!r} is not an ISO 639-2/639-3 code such as eng or fra"
        )
    if "version" in metadata:
        metadata["version"] = str(metadata["version"])
    _check_rules(metadata)
    return metadata
