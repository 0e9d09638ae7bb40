"""`cinefeat extract` and `cinefeat models ...` (mounted by cinefeat.cli.main).

The choices of `--features` and `--scene-detector` come from the registries, so a new extractor or
detector appears here without touching this file.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import click

from cinefeat.extract.models_cli import models
from cinefeat.store.cli_options import (
    DeviceError,
    device_option,
    echo_result,
    json_option,
    resolve_device,
)
from cinefeat.store.job_config import config_option, effective_config

log = logging.getLogger(__name__)


class _RegistryHelp(click.Option):
    """An option whose --help lists the registry's current names (read when help is shown)."""

    def __init__(self, *args: Any, names: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._names = names
        self._base_help = self.help or ""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        self.help = f"{self._base_help} Choices: {', '.join(self._names())}."
        return super().get_help_record(ctx)


precision_option = click.option(
    "--fp16/--fp32",
    "fp16",
    default=None,
    help="Half precision for the extractors [default: on CUDA only]. --fp16 on a CPU runs "
    "bfloat16 where the CPU has native bf16 (Intel AMX / AVX512-BF16: CLIP about 3x faster), "
    "else stays fp32.",
)


def _feature_names() -> list[str]:
    from cinefeat.extract.extractors import EXTRACTORS

    return EXTRACTORS.names()


def _detector_names() -> list[str]:
    from cinefeat.extract.scenes import SCENE_DETECTORS

    return sorted(SCENE_DETECTORS)


@click.command("extract")
@config_option
@click.argument("dataset_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--store",
    "store_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Feature store to write (created if missing; reruns resume).",
)
@click.option(
    "--features",
    required=True,
    cls=_RegistryHelp,
    names=_feature_names,
    help="Comma-separated feature names.",
)
@click.option(
    "--labels",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="CSV or JSON-lines labels file (id or relative path, genres separated by |), merged "
    "into the store's labels (a trailer labelled differently there is an error).",
)
@click.option(
    "--replace-labels",
    is_flag=True,
    help="Replace the store's labels with the --labels file instead of merging.",
)
@device_option
@precision_option
@click.option(
    "--batch-size",
    default=32,
    show_default=True,
    type=click.IntRange(min=1),
    help="Frames or clips per forward pass of each model.",
)
@click.option(
    "--workers",
    default="1",
    show_default=True,
    callback=lambda ctx, param, value: _workers(value),
    help="Worker processes (local; each decodes, runs the models and writes its own part) or "
    "actors (ray); auto: one per usable core, fewer if memory would not hold them.",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: processes on this machine; ray: actors on a Ray cluster (needs [distributed]).",
)
@click.option(
    "--ray-address",
    default=None,
    help="Existing Ray cluster, e.g. ray://head:10001 or auto (default: start one here). The "
    "store must be a path every node sees (a shared filesystem).",
)
@click.option(
    "--hwaccel",
    type=click.Choice(["none", "auto", "cuda"]),
    default="none",
    show_default=True,
    help="Video decoding on the GPU (NVDEC through PyAV) where the build and machine allow; "
    "falls back to software with a log line saying which ran.",
)
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Retry trailers recorded as failed, and the failed features of partial trailers.",
)
@click.option(
    "--max-loss",
    type=click.FloatRange(0.0, 1.0),
    default=0.05,
    show_default=True,
    help="Share of a stream's duration that may be lost to undecodable packets before the "
    "features that need that stream fail (the others are kept).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=None,
    help="Only the first N trailers by id (after --shard).",
)
@click.option("--shard", default=None, help="i/n: this machine's deterministic share.")
@click.option(
    "--scene-detector",
    default="content",
    show_default=True,
    cls=_RegistryHelp,
    names=_detector_names,
    help="Shot boundary detector.",
)
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="FEATURE.KEY=VALUE",
    help="Extractor option, e.g. clip.model=ViT-B-16 (repeatable).",
)
@click.option(
    "--vggish-postprocess",
    is_flag=True,
    help="vggish: store AudioSet's PCA + 8-bit quantised embedding instead of the raw one "
    "(same as --option vggish.postprocess=true).",
)
@click.option(
    "--extensions",
    default="mp4,mkv,webm,avi,mov,m4v",
    show_default=True,
    help="Comma-separated file extensions that count as videos.",
)
@json_option("the summary")
def extract(
    dataset_dir: Path,
    store_path: Path,
    features: str,
    labels: Path | None,
    replace_labels: bool,
    device: str,
    fp16: bool | None,
    batch_size: int,
    workers: int | None,
    engine: str,
    ray_address: str | None,
    hwaccel: str,
    retry_failed: bool,
    max_loss: float,
    limit: int | None,
    shard: str | None,
    scene_detector: str,
    options: tuple[str, ...],
    vggish_postprocess: bool,
    extensions: str,
    as_json: bool,
) -> None:
    """Extract FEATURES for every video under DATASET_DIR into the store (resumable).

    Exit codes: 0 all ok, 3 some trailers failed or are partial (a damaged stream failed some
    features), 4 every trailer failed (nothing usable),
    1 the run could not start, 2 usage error (docs/cli.md).
    """
    from cinefeat.extract.collisions import record_collisions
    from cinefeat.extract.extractors import BROKEN, EXTRACTORS
    from cinefeat.extract.labels import LabelsError, read_labels
    from cinefeat.extract.options import OptionError, parse_options
    from cinefeat.extract.runner import RunOptions
    from cinefeat.extract.scan import DatasetError, Shard, scan
    from cinefeat.extract.scenes import SCENE_DETECTORS

    names = [n.strip() for n in features.split(",") if n.strip()]
    unknown = [n for n in names if n not in EXTRACTORS.entries]
    if unknown or not names:
        broken = "".join(f"\n  {k} could not be imported: {v}" for k, v in BROKEN.items())
        raise click.BadParameter(
            f"unknown feature(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from: {', '.join(EXTRACTORS.names())}{broken}",
            param_hint="--features",
        )
    if scene_detector not in SCENE_DETECTORS:
        raise click.BadParameter(
            f"choose from: {', '.join(sorted(SCENE_DETECTORS))}", param_hint="--scene-detector"
        )
    device = resolve_extract_device(device)
    if replace_labels and labels is None:
        raise click.BadParameter("needs --labels FILE", param_hint="--replace-labels")
    if vggish_postprocess and "vggish" not in names:
        raise click.BadParameter("needs vggish in --features", param_hint="--vggish-postprocess")
    try:
        overrides = parse_options(options, EXTRACTORS, names)
        if vggish_postprocess:
            overrides.setdefault("vggish", {})["postprocess"] = True
        result = scan(
            dataset_dir,
            extensions.split(","),
            limit=limit,
            shard=Shard.parse(shard) if shard else None,
        )
        label_file = read_labels(labels) if labels else None
    except (DatasetError, LabelsError, OptionError) as error:
        raise click.ClickException(str(error)) from None
    if not result.trailers and not result.collisions:
        log.warning("no video files (%s) under %s: nothing to extract", extensions, dataset_dir)
    store = _open_store(store_path)
    if label_file is not None:
        _store_labels(store, label_file, result.found_ids, replace_labels)
    extractors = {n: EXTRACTORS.create(n, **overrides.get(n, {})) for n in names}
    run_options = RunOptions(
        device=device,
        fp16=fp16,
        batch_size=batch_size,
        workers=1,
        retry_failed=retry_failed,
        max_loss=max_loss,
        hwaccel=hwaccel,
        scene_detector=scene_detector,
        run_id=time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6],
        run_config=effective_config(click.get_current_context()),
        worker_id=f"{socket.gethostname()}-{os.getpid()}".replace("/", "_"),
    )
    trailers = result.trailers
    refused = record_collisions(store, result.collisions, run_options.run_id, run_options.worker_id)
    if engine == "ray":
        from cinefeat.extract.ray_engine import run_ray

        summary = run_ray(
            store_path, names, overrides, run_options, trailers, address=ray_address, actors=workers
        )
    else:
        if workers is None:
            from cinefeat.extract.processes import auto_workers

            workers = auto_workers(clips="i3d" in names)
            log.info("--workers auto: %d worker processes", workers)
        if workers > 1 and len(trailers) > 1:
            summary = _run_processes(store_path, names, overrides, run_options, trailers, workers)
        else:
            summary = _run_local(store, extractors, run_options, trailers)
    summary.merge(refused)
    _report(summary, len(trailers) + len(result.collisions), as_json)
    if summary.exit_code != 0:  # the codes: store/exit_codes.py, docs/cli.md
        raise SystemExit(summary.exit_code)


def _store_labels(store: Any, label_file: Any, found: frozenset[str], replace: bool) -> None:
    """Merge (or replace) the labels; warn about the file's problems and unknown ids."""
    from cinefeat.store.errors import LabelError

    warnings = list(label_file.warnings)
    unknown = label_file.unknown_ids(found | set(store.ids()))
    if unknown:
        warnings.append(unknown)
    for warning in warnings:
        log.warning("%s", warning)
    sources = {tid: label_file.source(tid) for tid in label_file.labels}
    try:
        if replace:
            store.set_labels(label_file.vocabulary, label_file.labels, sources)
        else:
            store.merge_labels(label_file.labels, sources)
    except LabelError as error:
        raise click.ClickException(str(error)) from None


def _run_local(store: Any, extractors: dict[str, Any], options: Any, trailers: list) -> Any:
    from cinefeat.extract.base import LoadError
    from cinefeat.extract.runner import LocalRunner
    from cinefeat.store.console import progress

    bar = progress(total=len(trailers), unit="trailer", desc="extract")
    try:
        runner = LocalRunner(store, extractors, options, on_trailer=lambda: bar.update(1))
        return runner.run(trailers)
    except LoadError as error:  # a model that cannot load fails the run, with its fix
        raise click.ClickException(f"cannot load the models: {error}") from None
    finally:
        bar.close()


def _workers(value: str) -> int | None:
    """`--workers`: a count >= 1, or None for auto."""
    from cinefeat.extract.processes import parse_workers

    try:
        return parse_workers(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: a count >= 1 or auto", param_hint="--workers"
        ) from None


def _run_processes(
    store_path: Path, names: list[str], overrides: dict, options: Any, trailers: list, workers: int
) -> Any:
    from cinefeat.extract.processes import run_processes
    from cinefeat.store.console import progress

    bar = progress(total=len(trailers), unit="trailer", desc=f"extract ({workers} processes)")
    try:
        return run_processes(
            store_path,
            names,
            overrides,
            options,
            trailers,
            workers,
            on_trailer=lambda s: bar.update(s.ok + s.failed + s.skipped),
        )
    finally:
        bar.close()


def _open_store(path: Path) -> Any:
    from cinefeat.store import FeatureStore

    try:
        return FeatureStore.open_or_create(path)
    except Exception as error:
        raise click.ClickException(f"cannot open or create the store at {path}: {error}") from None


def resolve_extract_device(device: str) -> str:
    """`--device` as the extractors take it ("cpu", "cuda", "cuda:N"): `auto` and the CUDA check
    are the shared resolver's (`store.cli_options`); extractors run on CPU or CUDA only."""
    if device not in ("auto", "cpu", "cuda") and not (
        device.startswith("cuda:") and device[5:].isdigit()
    ):
        raise click.BadParameter("use auto, cpu, cuda or cuda:N", param_hint="--device")
    try:
        return resolve_device(device)
    except DeviceError as error:
        raise click.ClickException(str(error)) from None


def _report(summary: Any, total: int, as_json: bool) -> None:
    if as_json:
        echo_result(summary.to_dict(total), as_json, "")
        return
    click.echo(summary.table())
    for trailer_id, stage, error in summary.failures[:20]:
        click.echo(f"failed {trailer_id} at {stage}: {error}", err=True)
    sys.stdout.flush()


COMMANDS: list[click.Command] = [extract, models]
