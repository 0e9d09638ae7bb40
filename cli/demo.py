"""`cinefeat demo`: the whole product on a small real dataset, with the models that work offline.

The demo runs the very commands a user types (each is printed before it runs), in one process:
extract -> store validate -> split -> train -> evaluate -> predict --explain, then writes a
Markdown report that links everything it made. Models whose weights are not on this machine are
left out with a notice that says how to get them; nothing ever runs on random weights.

Data: `cli.demo_dataset` (24 clips cut from real sample media, labels that are facts, not genres).
Weights are never downloaded by the demo (`CINEFEAT_OFFLINE=1` for its run); only the sample media
may be, from PyPI.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shlex
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from cinefeat.store.cli_options import device_option

log = logging.getLogger(__name__)

# (feature, averaged by the head) in the order tried; the weight-free colour histogram always runs
CANDIDATES: tuple[tuple[str, bool], ...] = (
    ("colorhist", False),
    ("clip", False),
    ("musicnet", True),
    ("audiotag", True),
    ("ocr", True),
    ("asr", True),
)
HEAD = "multi-transformer"
# tiny data: a higher rate and no early stop; the paper's settings are the command's defaults
TRAIN_SETTINGS = {
    "--lr": "1e-3",
    "--epochs": "100",
    "--patience": "100",
    "--batch-size": "4",
    "--pos-weight": "1",
    "--set": "dropout=0.1",
    "--seed": "0",
}
FOLDS = 4  # 24 clips: each head trains on 12, validates on 6, is tested on 6


def fold_split(fold: int) -> str:
    """Name `cinefeat split --kind stratified --folds 4 --seeds 0` gives fold `fold`."""
    return f"stratified-k{FOLDS}-s0-f{fold}"


@dataclass
class FeatureChoice:
    used: list[str] = field(default_factory=list)
    averaged: list[str] = field(default_factory=list)
    notices: dict[str, str] = field(default_factory=dict)  # feature -> why it was left out


def seed_weights_from_shared() -> list[str]:
    """Copy the published Choi 2016 files from `$CINEFEAT_SHARED/weights` into the cache.

    Each copy is then verified against the pinned sha256 by the normal loading path, so a wrong
    file is refused exactly as a wrong download would be.
    """
    from cinefeat.extract import extractors, pretrained  # importing extractors fills the table

    del extractors
    shared = os.environ.get("CINEFEAT_SHARED")
    if not shared:
        return []
    folder = Path(shared) / "weights" / "choi2016-music-tagger"
    seeded = []
    for name in ("choi2016-music-tagger-cnn", "choi2016-music-tagger-crnn"):
        entry = pretrained.get_weights(name)
        source = folder / entry.main_file.filename
        target = pretrained.entry_dir(name) / entry.main_file.filename
        if source.is_file() and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target.with_suffix(".partial"))
            target.with_suffix(".partial").replace(target)
            seeded.append(name)
    return seeded


def choose_features(device: str) -> FeatureChoice:
    """Load each candidate extractor once; keep those whose models are really here."""
    from cinefeat.extract.extractors import EXTRACTORS
    from cinefeat.extract.pretrained import WeightsError

    choice = FeatureChoice()
    for name, averaged in CANDIDATES:
        if name not in EXTRACTORS.entries:
            choice.notices[name] = "not installed (pip install 'cinefeat[extract]')"
            continue
        try:
            EXTRACTORS.create(name).load(device=device)
        except (WeightsError, ImportError) as error:
            choice.notices[name] = str(error).strip().splitlines()[0] + _fix_hint(error)
            continue
        choice.used.append(name)
        if averaged:
            choice.averaged.append(name)
    return choice


def _fix_hint(error: Exception) -> str:
    text = str(error)
    start = text.find("`cinefeat models download")
    if start < 0:
        return ""
    return " — fix: " + text[start : text.find("`", start + 1) + 1]


class Step:
    """Prints a command like a shell would, runs it in this process, times it."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.ran: list[tuple[str, float]] = []

    def __call__(self, *args: str, capture: bool = False, tolerate: tuple[int, ...] = ()) -> str:
        """Run one command; an exit code in `tolerate` is shown as a notice, not a failure."""
        from cinefeat.cli.main import main

        line = "cinefeat " + " ".join(shlex.quote(str(a)) for a in args)
        click.secho(f"\n$ {line}", bold=True, err=True)
        started = time.perf_counter()
        buffer = io.StringIO()
        prefix = ["--quiet"] if self.quiet else []
        with contextlib.redirect_stdout(buffer) if capture else contextlib.nullcontext():
            try:
                main.main([*prefix, *map(str, args)], standalone_mode=False)
            except SystemExit as stop:
                if stop.code in tolerate:
                    click.secho(f"NOTICE exit {stop.code}: {line}", fg="yellow", err=True)
                elif stop.code not in (0, None):
                    raise click.ClickException(f"step failed (exit {stop.code}): {line}") from None
        self.ran.append((line, time.perf_counter() - started))
        return buffer.getvalue()


@click.command("demo")
@click.option(
    "--out",
    "out_dir",
    default="cinefeat-demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the dataset, store, head and report (reruns resume).",
)
@click.option("--offline", is_flag=True, help="Never download sample media; fail if absent.")
@device_option
@click.pass_context
def demo(ctx: click.Context, out_dir: Path, offline: bool, device: str) -> None:
    """Run the whole product on a small real dataset (under 10 minutes on 2 CPU cores).

    24 clips cut from real sample media (from $CINEFEAT_SHARED/media or PyPI) with labels that are
    facts (animation, live-action, music, speech, on-screen-text), then extract, validate, split
    into 4 stratified folds, train a multi-transformer head per fold, evaluate (mean ± std over
    the folds), and predict on a held-out clip with --explain.
    """
    from cinefeat.extract.cli import resolve_extract_device

    device = resolve_extract_device(device)  # one answer for every step it runs
    # the demo uses the weights already here and downloads none (CLIP alone is 605 MB); each
    # model left out gets a notice with its download command
    with _environment(CINEFEAT_OFFLINE="1"):
        _run_demo(bool(ctx.find_root().params.get("quiet")), out_dir, offline, device)


@contextlib.contextmanager
def _environment(**values: str):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _run_demo(quiet: bool, out_dir: Path, offline: bool, device: str) -> None:
    from cinefeat.cli.demo_dataset import build_dataset
    from cinefeat.cli.demo_media import MEDIA, find_media
    from cinefeat.cli.demo_report import write_demo_report
    from cinefeat.extract.summary import EXIT_SOME_FAILED

    started = time.perf_counter()
    out_dir = out_dir.resolve()
    store, report, explain = (out_dir / n for n in ("demo.zarr", "report", "explain"))
    media = find_media(download=not offline)  # a MediaError names the fix (shown by cli.main)
    click.echo(f"sample media: {', '.join(str(p) for p in media.values())}", err=True)
    clips, labels_file = build_dataset(media, out_dir / "dataset")
    click.echo(f"dataset: {len(clips)} clips in {out_dir / 'dataset'}", err=True)

    seeded = seed_weights_from_shared()
    choice = choose_features(device)
    for name, why in choice.notices.items():
        click.secho(f"NOTICE {name}: not used: {why}", fg="yellow", err=True)
    features = ",".join(choice.used)

    step = Step(quiet)
    step(
        "extract",
        out_dir / "dataset",
        "--store",
        store,
        "--features",
        features,
        "--labels",
        labels_file,
        "--replace-labels",  # the demo's labels file is the truth, also over an older demo's
        "--device",
        device,
        tolerate=(EXIT_SOME_FAILED,),  # some clips failing still leaves a demo to run
    )
    step("store", "validate", store)
    step("split", store, "--kind", "stratified", "--folds", FOLDS, "--seeds", "0")
    heads = [out_dir / "heads" / f"fold-{fold}" for fold in range(FOLDS)]
    for fold, head in enumerate(heads):
        step(
            "train",
            store,
            "--arch",
            HEAD,
            "--features",
            features,
            "--average",
            ",".join(choice.averaged),
            "--split",
            fold_split(fold),
            "--out",
            head,
            "--device",
            device,
            *(part for pair in TRAIN_SETTINGS.items() for part in pair),
        )
    # each head is tested on its own fold (the split recorded in the head); mean +- std over folds
    step("evaluate", store, *(part for h in heads for part in ("--head", h)), "--out", report)
    fold = max(range(FOLDS), key=lambda f: _validation_ap(heads[f]))  # chosen without test data
    head = heads[fold]
    video = out_dir / "dataset" / f"{_test_ids(store, fold_split(fold))[0]}.mp4"
    printed = step(
        "predict",
        video,
        "--head",
        head,
        "--explain",
        explain,
        "--device",
        device,
        "--json",
        capture=True,
    )
    prediction = json.loads(printed)
    summary = write_demo_report(
        out_dir / "README.md",
        clips=clips,
        media={m.name: m for m in MEDIA},
        choice=choice,
        seeded=seeded,
        steps=step.ran,
        report_dir=report,
        heads=heads,
        prediction=prediction,
        wall_s=time.perf_counter() - started,
    )
    _print_prediction(prediction)
    click.echo(f"\ndemo finished in {time.perf_counter() - started:.0f} s", err=True)
    click.echo(f"report:  {summary}")
    click.echo(f"store:   {store}")
    click.echo(f"heads:   {out_dir / 'heads'} (one per fold)")
    click.echo(f"metrics: {report / 'summary.md'} (mean ± std over {FOLDS} folds)")


def _validation_ap(head: Path) -> float:
    return float(json.loads((head / "history.json").read_text())["best_val_ap"])


def _test_ids(store_path: Path, split: str) -> list[str]:
    from cinefeat.store import FeatureStore

    return sorted(FeatureStore.open(store_path, read_only=True).splits()[split]["test"])


def _print_prediction(prediction: dict[str, Any]) -> None:
    for video in prediction["videos"]:
        click.echo(f"\n{video['video']}:")
        for item in video["labels"]:
            click.echo(f"  {item['label']:<16} {item['score']:.3f}")
        if video.get("explain"):
            click.echo(f"  most attended keyframes: {video['explain']}")
