"""The README.md data card and CITATION.cff that travel with every feature archive.

A record on Zenodo is read by people deciding whether the numbers suit their experiment, so the
card is generated from what the store knows for certain (provenance, counts) rather than written
by hand: which model and weights (with checksum and licence), how frames/audio were sampled, how
many trailers and rows, and how to load it. Licences of the models matter: features computed by a
model can inherit its terms, so they are listed per feature.
"""

from __future__ import annotations

from typing import Any

WEIGHTS_KEYS = ("weights_sha256", "sha256", "weights")
LICENCE_KEYS = ("licence", "license", "weights_licence", "weights_license")
HIDDEN_KEYS = ("config_hash",)


def _first(provenance: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if provenance.get(key) not in (None, ""):
            return provenance[key]
    return None


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text.replace("|", "\\|").replace("\n", " ")


def model_licences(provenance: dict[str, dict[str, Any]]) -> dict[str, str]:
    """{feature: licence of the model that computed it} ("not recorded" when unknown)."""
    return {
        name: str(_first(prov, LICENCE_KEYS) or "not recorded")
        for name, prov in sorted(provenance.items())
    }


def render_readme(
    title: str,
    provenance: dict[str, dict[str, Any]],
    counts: dict[str, Any],
    files: dict[str, int],
    cinefeat_version: str,
    zip_features: dict[str, list[str]] | None = None,
) -> str:
    """Markdown data card: summary, per-feature provenance tables, files, how to load.

    `zip_features` names the features each zip holds (shown when a zip holds a group)."""
    lines = [
        f"# {title}",
        "",
        "Multimodal features of movie trailers computed with "
        f"[cinefeat](https://cinefeat.readthedocs.io) {cinefeat_version}.",
        "",
        "## Contents",
        "",
        f"- trailers: {counts.get('trailers', 0)} ({counts.get('trailers_ok', 0)} ok, "
        f"{counts.get('trailers_failed', 0)} failed)",
        f"- labels: {counts.get('labels', 0)} genres on {counts.get('labelled', 0)} trailers",
        f"- splits: {', '.join(counts.get('splits', [])) or 'none'}",
        "",
        "| feature | model | dim | dtype | trailers | rows | model licence |",
        "|---|---|---|---|---|---|---|",
    ]
    licences = model_licences(provenance)
    per_feature = counts.get("features", {})
    for name, prov in sorted(provenance.items()):
        stats = per_feature.get(name, {})
        model = prov.get("model") or prov.get("extractor") or "?"
        lines.append(
            f"| {name} | {_cell(model)} | {prov.get('dim', '?')} | {prov.get('dtype', '?')} | "
            f"{stats.get('trailers', '?')} | {stats.get('rows', '?')} | {_cell(licences[name])} |"
        )
    lines += ["", "## Provenance", ""]
    for name, prov in sorted(provenance.items()):
        lines += [f"### {name}", "", "| key | value |", "|---|---|"]
        for key in sorted(prov):
            if key not in HIDDEN_KEYS:
                lines.append(f"| {key} | {_cell(prov[key])} |")
        lines += [f"| config_hash | {_cell(prov.get('config_hash', ''))} |", ""]
    held = zip_features or {}
    lines += ["## Files", "", "| file | bytes | features |", "|---|---|---|"]
    lines += [
        f"| {name} | {size} | {', '.join(held.get(name, [])) or '-'} |"
        for name, size in sorted(files.items())
    ]
    lines += [
        "",
        "Checksums (size, md5, sha256) of every file are in `MANIFEST.json`.",
        "",
        "## Loading",
        "",
        "```bash",
        "pip install 'cinefeat[publish]'",
        "cinefeat fetch RECORD_ID features/   # resumes, verifies every checksum",
        "```",
        "",
        "```python",
        "from cinefeat.store import FeatureStore",
        "store = FeatureStore.open('features/')   # reads the zips in place, no extraction",
        "values, spans, offsets = store.load_feature('<feature>')",
        "```",
        "",
        "Source paths of the videos are reduced to file names; `source_sha256` identifies each "
        "video file.",
        "",
    ]
    return "\n".join(lines)


def _yaml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def render_citation(metadata: dict[str, Any], title: str, version: str | None) -> str:
    """CITATION.cff (format 1.2.0) from the publication metadata (creators, licence, DOI)."""
    lines = [
        "cff-version: 1.2.0",
        'message: "If you use these features, please cite them as below."',
        "type: dataset",
        f"title: {_yaml_string(metadata.get('title') or title)}",
    ]
    if version or metadata.get("version"):
        lines.append(f"version: {_yaml_string(str(metadata.get('version') or version))}")
    if metadata.get("license"):
        lines.append(f"license: {_yaml_string(str(metadata['license']))}")
    if metadata.get("doi"):
        lines.append(f"doi: {_yaml_string(str(metadata['doi']))}")
    creators = metadata.get("creators") or [{"name": "cinefeat user"}]
    lines.append("authors:")
    for creator in creators:
        name = str(creator.get("name", ""))
        family, _, given = name.partition(",")
        if given:
            lines.append(f"  - family-names: {_yaml_string(family.strip())}")
            lines.append(f"    given-names: {_yaml_string(given.strip())}")
        else:
            lines.append(f"  - name: {_yaml_string(name)}")
        if creator.get("affiliation"):
            lines.append(f"    affiliation: {_yaml_string(str(creator['affiliation']))}")
        if creator.get("orcid"):
            lines.append(f'    orcid: "https://orcid.org/{creator["orcid"]}"')
    if metadata.get("keywords"):
        lines.append("keywords:")
        lines += [f"  - {_yaml_string(str(k))}" for k in metadata["keywords"]]
    return "\n".join(lines) + "\n"
