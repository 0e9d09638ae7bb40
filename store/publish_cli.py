"""`cinefeat archive | publish | fetch`: feature archives and Zenodo (mounted by cli/main.py).

`archive` needs only the base install; `publish` and `fetch` need `requests`, the [publish] extra,
imported when they run. The Zenodo token is read from ZENODO_TOKEN (ZENODO_SANDBOX_TOKEN with
--sandbox) or --token-file, never from an argument, and is redacted from every message.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from cinefeat.store.archive.errors import ArchiveError
from cinefeat.store.cli_options import echo_result, json_option, store_argument

API_URL_HELP = (
    "API base URL of another InvenioRDM instance (an institutional repository, a local test "
    "server), e.g. https://data.example.edu/api (default: $CINEFEAT_ZENODO_API, else zenodo.org)."
)


def _features(value: str | None) -> list[str] | None:
    return [name.strip() for name in value.split(",") if name.strip()] if value else None


def _groups(values: tuple[str, ...]) -> dict[str, list[str]] | None:
    """`--group visual=clip,vit --group audio=panns` -> {"visual": [...], "audio": [...]}."""
    groups: dict[str, list[str]] = {}
    for value in values:
        name, sep, members = value.partition("=")
        if not sep or not name.strip() or not _features(members):
            raise click.BadParameter(
                f"{value!r}: write NAME=feature1,feature2", param_hint="--group"
            )
        if name.strip() in groups:
            raise click.BadParameter(f"group {name.strip()!r} given twice", param_hint="--group")
        groups[name.strip()] = _features(members) or []
    return groups or None


@contextmanager
def _user_errors(secret: str | None = None) -> Iterator[None]:
    """Typed errors of archives and Zenodo become one clean line (token redacted)."""
    from cinefeat.store.zenodo.errors import ZenodoError
    from cinefeat.store.zenodo.token import Redactor

    redactor = Redactor(secret or "")
    redactor.install()
    try:
        yield
    except (ArchiveError, ZenodoError) as error:
        raise click.ClickException(redactor.redact(error)) from None
    finally:
        redactor.uninstall()


def _requests_or_fail() -> None:
    try:
        import requests  # noqa: F401
    except ImportError as error:
        raise click.ClickException(
            "publishing and fetching need the [publish] extra: pip install 'cinefeat[publish]'"
        ) from error


def _client(sandbox: bool, token_file: Path | None, api_url: str | None, need_token: bool) -> Any:
    from cinefeat.store.zenodo.client import ZenodoClient
    from cinefeat.store.zenodo.client import api_url as default_api
    from cinefeat.store.zenodo.errors import ZenodoAuthError
    from cinefeat.store.zenodo.token import load_token

    try:
        token = load_token(token_file, sandbox=sandbox)
    except ZenodoAuthError:
        if need_token:
            raise
        token = None
    return ZenodoClient(token, api_url or default_api(sandbox))


def _emit(as_json: bool, payload: dict[str, Any], text: Callable[[], str]) -> None:
    echo_result(payload, as_json, text)


@click.command("archive")
@store_argument
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--features", help="Comma-separated features to include (default: all).")
@click.option(
    "--group",
    "groups",
    multiple=True,
    metavar="NAME=F1,F2",
    help="Put these features into one zip feature-NAME.zip (repeatable; default: a zip each).",
)
@click.option(
    "--metadata",
    "metadata_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Publication metadata (YAML/TOML) for the title and CITATION.cff.",
)
@click.option("--title", help="Title of the data card (default: from --metadata).")
@json_option("the manifest")
def archive_command(
    store_path: Path,
    out_dir: Path,
    features: str | None,
    groups: tuple[str, ...],
    metadata_file: Path | None,
    title: str | None,
    as_json: bool,
) -> None:
    """Write STORE as a Zenodo-ready archive folder OUT_DIR (zips, manifest, data card)."""
    from cinefeat.store.archive.build import build_archive
    from cinefeat.store.zenodo.metadata import read_metadata_file

    with _user_errors():
        metadata = read_metadata_file(metadata_file) if metadata_file else None
        manifest = build_archive(
            store_path,
            out_dir,
            features=_features(features),
            title=title,
            metadata=metadata,
            groups=_groups(groups),
        )
    total = sum(entry.size for entry in manifest.files)
    _emit(
        as_json,
        json.loads(manifest.to_json()),
        lambda: "\n".join(
            [f"{e.name}\t{e.size}\t{e.sha256}" for e in manifest.files]
            + [f"{len(manifest.files) + 1} files, {total / 1e9:.3f} GB in {out_dir}"]
        ),
    )


@click.command("publish")
@click.argument("archive_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--metadata",
    "metadata_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Publication metadata: YAML or TOML (title, creators, license, ...).",
)
@click.option("--sandbox", is_flag=True, help="Use sandbox.zenodo.org (test DOIs).")
@click.option(
    "--publish", "do_publish", is_flag=True, help="Publish (mints a DOI; cannot be undone)."
)
@click.option("--new-version-of", help="Record id of the published record this updates.")
@click.option(
    "--token-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File holding the Zenodo token (default: $ZENODO_TOKEN).",
)
@click.option("--api-url", help=API_URL_HELP)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check everything locally and print exactly what would be sent; send nothing.",
)
@json_option("the result")
def publish_command(
    archive_dir: Path,
    metadata_file: Path,
    sandbox: bool,
    do_publish: bool,
    new_version_of: str | None,
    token_file: Path | None,
    api_url: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Upload ARCHIVE_DIR to a Zenodo draft (resumable); publish only with --publish."""
    from cinefeat.store.zenodo.metadata import read_metadata_file

    if dry_run:  # no token, no network: the local checks and the request bodies
        _dry_run(archive_dir, metadata_file, sandbox, api_url, do_publish, new_version_of, as_json)
        return
    _requests_or_fail()
    from cinefeat.store.zenodo.publish import publish_archive

    with _user_errors():
        client = _client(sandbox, token_file, api_url, need_token=True)
    with _user_errors(client.redactor.secrets[0]):
        metadata = read_metadata_file(metadata_file)
        result = publish_archive(
            client, archive_dir, metadata, publish=do_publish, new_version_of=new_version_of
        )
    state = (
        "published"
        if result.published
        else "draft, NOT published (review it there, then rerun with --publish)"
    )
    _emit(
        as_json,
        {**result.__dict__},
        lambda: (
            f"{state}: {result.url}\n"
            f"uploaded {len(result.uploaded)} files, {len(result.skipped)} already there"
            + (f"\nDOI: {result.doi}" if result.doi else "")
        ),
    )


def _dry_run(
    archive_dir: Path,
    metadata_file: Path,
    sandbox: bool,
    api_url: str | None,
    do_publish: bool,
    new_version_of: str | None,
    as_json: bool,
) -> None:
    from cinefeat.store.zenodo.client import api_url as resolve_api
    from cinefeat.store.zenodo.metadata import read_metadata_file
    from cinefeat.store.zenodo.publish import publish_plan

    with _user_errors():
        plan = publish_plan(
            archive_dir,
            read_metadata_file(metadata_file),
            resolve_api(sandbox, api_url),
            publish=do_publish,
            new_version_of=new_version_of,
        )
    total = sum(f["size"] for f in plan["files"])
    _emit(
        as_json,
        plan,
        lambda: (
            f"dry run, nothing sent. API {plan['api']}: {plan['deposition']}, "
            f"{len(plan['files'])} files ({total / 1e9:.3f} GB), "
            f"{'then publish' if do_publish else 'left as a draft'}; checked by Zenodo on "
            f"upload: {plan['checked_by_zenodo']}\nmetadata (PUT body):\n"
            + json.dumps(plan["metadata"], indent=2)
        ),
    )


@click.command("fetch")
@click.argument("record")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--features", help="Comma-separated features to download (default: all).")
@click.option("--sandbox", is_flag=True, help="Fetch from sandbox.zenodo.org.")
@click.option(
    "--auth",
    is_flag=True,
    help="Send the token (for restricted records); public records are fetched without it.",
)
@click.option(
    "--token-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --auth: file holding the token (default: $ZENODO_TOKEN).",
)
@click.option("--api-url", help=API_URL_HELP)
@json_option("a summary")
def fetch_command(
    record: str,
    dest: Path,
    features: str | None,
    sandbox: bool,
    auth: bool,
    token_file: Path | None,
    api_url: str | None,
    as_json: bool,
) -> None:
    """Download RECORD (record id, DOI, concept id or concept DOI) into DEST with resume, verify
    it, and open it as a store."""
    _requests_or_fail()
    from cinefeat.store.fetch import fetch_record
    from cinefeat.store.zenodo.client import ZenodoClient
    from cinefeat.store.zenodo.client import api_url as resolve_api

    if token_file is not None and not auth:
        raise click.UsageError("--token-file sends a token: add --auth to say so")
    with _user_errors():
        # A token goes out only when asked: a public record needs none, and a token sent
        # without need is a token a hostile mirror or a logged proxy can take.
        if auth:
            client = _client(sandbox, token_file, api_url, need_token=True)
        else:
            client = ZenodoClient(None, resolve_api(sandbox, api_url))
    with _user_errors(client.redactor.secrets[0] if client.redactor.secrets else None):
        store = fetch_record(client, record, dest, only=_features(features))
    summary = {"path": str(dest), "trailers": len(store), "features": store.features()}
    _emit(
        as_json,
        summary,
        lambda: f"{dest}: {len(store)} trailers, features {', '.join(store.features())} (verified)",
    )


COMMANDS: list[click.Command] = [archive_command, publish_command, fetch_command]
