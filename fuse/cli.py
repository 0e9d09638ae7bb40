"""`cinefeat train | evaluate | tune | split` (mounted by cinefeat.cli.main).

Choices come from the registries (`--arch` from `HEADS`, read on first use: importing this module
must not import torch, or `cinefeat --help` pays for it); every option maps to a field of
`TrainConfig`, `DataOptions` or the head's config dataclass (`--set KEY=VALUE`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cinefeat.fuse.import_head_cli import COMMANDS as import_head_commands
from cinefeat.store.cli_options import (
    LazyChoice,
    device_option,
    echo_result,
    json_option,
    resolve_device,
    store_argument,
)
from cinefeat.store.errors import NO_LABELS

if TYPE_CHECKING:
    from cinefeat.fuse.heads import Head

log = logging.getLogger(__name__)

DataErrors: tuple[type[Exception], ...] = (ValueError, KeyError)


def _head_choices() -> list[str]:
    from cinefeat.fuse.heads import head_choices

    return head_choices()


# `--arch NAME` of train and tune: a head architecture of the registry. It was `--head NAME`, which
# every other command uses for a trained head *folder* (evaluate, predict, embed, ...); `--arch` is
# what timm and open_clip call the choice of model architecture, and it names the type, not an
# instance. `--head NAME` still works here, hidden, with a deprecation warning (old scripts).
_arch_options = (
    click.option(
        "--arch",
        "head_name",
        type=LazyChoice(_head_choices),
        default=None,
        help="Head architecture (required; registry: docs/heads/), e.g. mlp or mlp:sulun2024.",
    ),
    click.option(
        "--head",
        "deprecated_head_name",
        type=LazyChoice(_head_choices),
        default=None,
        hidden=True,
        help="Deprecated name of --arch.",
    ),
)


def _arch_option(function: Callable) -> Callable:
    for option in reversed(_arch_options):
        function = option(function)
    return function


def _arch(head_name: str | None, deprecated_head_name: str | None) -> str:
    """The architecture of `--arch`, or of the deprecated `--head NAME` (with a warning)."""
    if deprecated_head_name is not None:
        if head_name is not None and head_name != deprecated_head_name:
            raise click.UsageError(
                f"--arch {head_name} and --head {deprecated_head_name} disagree: give --arch only"
            )
        log.warning(
            "--head %s is deprecated for a head architecture: use --arch %s "
            "(--head names a trained head folder in evaluate, predict, ...)",
            deprecated_head_name,
            deprecated_head_name,
        )
        return deprecated_head_name
    if head_name is None:
        raise click.UsageError("Missing option '--arch' (a head architecture, e.g. --arch mlp).")
    return head_name


def _out_option(help_text: str) -> Callable[[Callable], Callable]:
    return click.option(
        "--out", "out_dir", type=click.Path(file_okay=False), required=True, help=help_text
    )


def _open_store(path: str) -> Any:
    """The store at `path`; NotAStoreError and friends name the fix (shown by cli.main)."""
    from cinefeat.store import FeatureStore

    return FeatureStore.open(path)


def _data_options(function: Callable) -> Callable:
    options = [
        click.option(
            "--features", required=True, help="Comma-separated store features, e.g. clip,audiotag."
        ),
        click.option(
            "--split",
            "split_name",
            default=None,
            help="Named split in the store (default sorted-id).",
        ),
        click.option(
            "--split-file",
            type=click.Path(exists=True, dir_okay=False),
            default=None,
            help="JSON {train,val,test} or CSV id,subset instead of a stored split.",
        ),
        click.option(
            "--max-len",
            default="whisker",
            show_default=True,
            help="'whisker' (Q3+1.5 IQR of train lengths) or clip=216,ocr=64,...",
        ),
        click.option("--average", default="", help="Features to average over time, e.g. ocr,asr."),
        click.option(
            "--top-labels", type=int, default=None, help="Keep the K most frequent labels."
        ),
        click.option(
            "--duration-filter",
            is_flag=True,
            help="Drop trailers outside Q1-1.5 IQR .. Q3+1.5 IQR of duration.",
        ),
        click.option(
            "--normalize/--no-normalize",
            default=True,
            show_default=True,
            help="Standardise each feature with train-split statistics.",
        ),
        click.option(
            "--epochs", type=int, default=50, show_default=True, help="Most epochs to train."
        ),
        click.option("--lr", type=float, default=1e-5, show_default=True, help="Learning rate."),
        click.option(
            "--batch-size", type=int, default=32, show_default=True, help="Trailers per batch."
        ),
        click.option(
            "--optimizer",
            type=click.Choice(["adam", "adamw"]),
            default="adam",
            show_default=True,
            help="Optimiser of the head's weights.",
        ),
        click.option(
            "--weight-decay",
            type=float,
            default=0.0,
            show_default=True,
            help="L2 penalty (decoupled for adamw).",
        ),
        click.option("--amsgrad", is_flag=True, help="The AMSGrad variant of Adam/AdamW."),
        click.option(
            "--pos-weight",
            default="0.25",
            show_default=True,
            help="BCE weight of positive labels (0.25 in Sulun et al.), or 'frequency': "
            "negatives/positives of each label in the training split.",
        ),
        click.option(
            "--patience",
            type=int,
            default=10,
            show_default=True,
            help="Epochs without a better validation score (--select-by) before stopping.",
        ),
        click.option(
            "--select-by",
            type=click.Choice(["ap_macro", "loss", "auprc_sum"]),
            default="ap_macro",
            show_default=True,
            help="Validation score that picks the best epoch: macro AP, loss (DIViTA), or "
            "micro+macro+weighted trapezoid AU(PRC) (Cai et al.).",
        ),
        click.option(
            "--schedule",
            type=click.Choice(["none", "cosine", "step", "plateau"]),
            default="none",
            show_default=True,
            help="Learning-rate schedule, set per epoch (after --warmup-epochs).",
        ),
        click.option(
            "--warmup-epochs", type=int, default=0, show_default=True, help="Linear warm-up."
        ),
        click.option(
            "--step-size", type=int, default=10, show_default=True, help="step: epochs per cut."
        ),
        click.option(
            "--gamma", type=float, default=0.1, show_default=True, help="step/plateau factor."
        ),
        click.option(
            "--plateau-patience",
            type=int,
            default=3,
            show_default=True,
            help="plateau: epochs without a better score per cut of the lr.",
        ),
        click.option(
            "--crop",
            type=click.Choice(["first", "equidistant", "random"]),
            default=None,
            help="Training-time cut of sequences longer than --max-len (recorded in the head); "
            "default: the preset's (equidistant for *:sulun2024), else first. evaluate and "
            "predict always use every row.",
        ),
        click.option(
            "--refit",
            is_flag=True,
            help="After the validation split chose the best epoch, train a fresh head on train + "
            "validation for that many epochs and save it (small data; docs/training.md).",
        ),
        click.option(
            "--ensemble",
            type=click.IntRange(min=1),
            default=1,
            show_default=True,
            help="Train K heads with seeds --seed, --seed+1, ...; the saved folder holds all K "
            "and predict/evaluate average their probabilities.",
        ),
        click.option(
            "--bootstrap",
            is_flag=True,
            help="Each member trains on a bootstrap sample of the training trailers (bagging; "
            "with --ensemble K; docs/training.md).",
        ),
        click.option(
            "--subspace",
            type=click.FloatRange(min=0.0, max=1.0, min_open=True),
            default=1.0,
            show_default=True,
            help="Each member reads this random share of every feature's columns, saved with it "
            "(random subspace; with --ensemble K).",
        ),
        device_option,
        click.option(
            "--seed",
            type=int,
            default=0,
            show_default=True,
            help="Seed of initialisation, shuffling and random crops.",
        ),
        click.option(
            "--set",
            "head_sets",
            multiple=True,
            metavar="KEY=VALUE",
            help="Head config field, e.g. --set d_model=128 (see docs/heads/).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _options(kwargs: dict[str, Any]):
    """(DataOptions, TrainConfig, head options) of the shared options; a crop left unset
    (`--crop` nor `--set crop=`) stays None, so `load_split` uses the head's or preset's."""
    from cinefeat.fuse.runs import DataOptions, parse_assignments, split_list, train_config
    from cinefeat.fuse.store_data import parse_max_len

    data = DataOptions(
        features=split_list(kwargs["features"]),
        split=kwargs["split_name"],
        split_file=kwargs["split_file"],
        max_len=parse_max_len(kwargs["max_len"]),
        average=split_list(kwargs["average"]),
        top_k=kwargs["top_labels"],
        duration_filter=kwargs["duration_filter"],
        normalize=kwargs["normalize"],
        crop=kwargs["crop"],
    )
    unknown = [f for f in data.average if f not in data.features]
    if unknown:
        raise click.ClickException(f"--average {unknown} must also be listed in --features")
    head_options = parse_assignments(kwargs["head_sets"])
    if "crop" in head_options:  # --set crop=X is the same option as --crop X
        data.crop = head_options.pop("crop")
    config = train_config(**{**kwargs, "pos_weight": _pos_weight(kwargs["pos_weight"])})
    return data, config, head_options


def _pos_weight(text: str) -> float | str:
    if text == "frequency":
        return text
    try:
        return float(text)
    except ValueError as error:
        raise click.ClickException(
            f"--pos-weight {text!r} must be a number (e.g. 0.25) or 'frequency'"
        ) from error


@click.command("train")
@store_argument
@_arch_option
@_out_option("Folder for the trained head (and its checkpoints, for --resume).")
@_data_options
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoints/last.")
@json_option("the result")
def train_command(
    store_path: str,
    head_name: str | None,
    deprecated_head_name: str | None,
    out_dir: str,
    resume: bool,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Train a head of architecture --arch on STORE features; the best epoch's head is saved in
    --out."""
    from cinefeat.fuse.heads import HeadConfigError
    from cinefeat.fuse.runs import load_split, train_head

    head_name = _arch(head_name, deprecated_head_name)
    kwargs["device"] = resolve_device(kwargs["device"])  # a DeviceError before any work
    store = _open_store(store_path)
    try:
        data_options, config, head_options = _options(kwargs)
        data = load_split(store, data_options, head_name)
        _, result = train_head(
            store, data, data_options, head_name, head_options, config, out_dir, resume
        )
    except (HeadConfigError, ValueError, KeyError) as error:
        raise click.ClickException(str(error)) from error
    from cinefeat.fuse.train import SMALL_DATA_RECIPE

    summary = {
        "out": out_dir,
        "head": head_name,
        "best_val_ap_macro": result.best_val_ap,
        "select_by": result.select_by,
        "best_score": result.best_score,
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "best_is_last": result.best_is_last,
        **({"recipe": result.recipe} if config.refit or config.ensemble > 1 else {}),
    }
    if result.best_is_last:
        suggestion = (
            f"the best epoch is the last of {result.epochs}: the head was still improving. "
            "The defaults (lr 1e-5, 50 epochs) are Sulun et al.'s for 18k trailers; on a small "
            f"data set try the small-data recipe of docs/training.md: {SMALL_DATA_RECIPE}"
        )
        summary["suggestion"] = suggestion
        if not as_json:  # --json carries it in the answer; stdout stays one JSON document
            click.echo(f"note: {suggestion}", err=True)
    echo_result(
        summary,
        as_json,
        f"{head_name}: best validation macro AP {result.best_val_ap:.4f} "
        f"(epoch {_epochs(result.best_epoch)}); saved to {out_dir}",
    )


def _evaluation_split(
    head: Head, split_name: str | None, split_file: str | None
) -> tuple[str | None, str | None]:
    """--split / --split-file, else the split the head was trained on (never a different one by
    accident: the default split of the store may put the head's training trailers in its test)."""
    if split_name or split_file:
        return split_name, split_file
    recorded = head.provenance.get("data") or {}
    if recorded.get("split_file"):
        if not Path(recorded["split_file"]).is_file():
            raise click.ClickException(
                f"the head was trained with --split-file {recorded['split_file']}, which is not "
                "here: pass --split-file PATH or --split NAME"
            )
        return None, recorded["split_file"]
    if recorded:
        return recorded.get("split"), None
    legacy = head.provenance.get("split")  # heads saved before `data` was recorded
    if legacy and Path(legacy).is_file():
        return None, legacy
    return legacy, None


def _split_label(head: Head, split_name: str | None, split_file: str | None) -> str:
    name, file = _evaluation_split(head, split_name, split_file)
    return name or file or "the store's default"


def _epochs(best: dict[str, int]) -> str:
    """`12`, or `image 4, fusion 9` for heads trained in stages (frame-mlp-fusion)."""
    if list(best) == ["train"]:
        return str(best["train"])
    return ", ".join(f"{stage} {epoch}" for stage, epoch in best.items())


def _head_data(store: Any, head: Head, split_name: str | None, split_file: str | None):
    """The evaluation data of a trained head: its features, lengths, averaging and labels, on its
    training split (unless another is given) with its duration filter."""
    from cinefeat.fuse.store_data import load_padded, select

    split_name, split_file = _evaluation_split(head, split_name, split_file)
    duration_filter = bool((head.provenance.get("data") or {}).get("duration_filter", False))
    max_len = {spec.name: spec.max_len for spec in head.features}
    selection = select(
        store,
        head.feature_names,
        split_name,
        split_file,
        max_len,
        duration_filter=duration_filter,
    )
    store_labels, _ = store.labels()
    missing = [n for n in head.label_names if n not in store_labels]
    if missing:
        raise click.ClickException(f"the store has no labels {missing} that the head predicts")
    selection.label_columns = [store_labels.index(n) for n in head.label_names]
    selection.label_names = list(head.label_names)
    ids = [t for s in ("val", "test") for t in selection.split[s]]
    # whole trailers: every row, not the first max_len (the head reads long ones its own way)
    data = load_padded(store, head.feature_names, ids, selection, head.average, whole=True)
    return data.select_ids(selection.split["val"]), data.select_ids(selection.split["test"])


@click.command("evaluate")
@store_argument
@click.option(
    "--head",
    "head_dirs",
    multiple=True,
    required=True,
    type=click.Path(exists=True),
    help="A trained head folder; repeat to report mean +- std over several runs.",
)
@_out_option("Folder for report.md, metrics.json and the plots.")
@click.option(
    "--split",
    "split_name",
    default=None,
    help="Named split in the store (default: the one the head was trained on).",
)
@click.option(
    "--split-file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="JSON {train,val,test} or CSV id,subset instead of a stored split.",
)
@click.option(
    "--late-fusion",
    is_flag=True,
    help="Fuse exactly two heads (weight picked on validation, step 0.01; HT-FA).",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0),
    default=0.5,
    show_default=True,
    help="Probability at which a label counts as predicted (P/R/F1); Fish et al. report 0.3.",
)
@device_option
@json_option("the metrics")
def evaluate_command(
    store_path: str,
    head_dirs: tuple[str, ...],
    out_dir: str,
    split_name: str | None,
    split_file: str | None,
    late_fusion: bool,
    threshold: float,
    device: str,
    as_json: bool,
) -> None:
    """Evaluate trained heads on the test split: report.md, metrics.json, PNG plots."""
    from cinefeat.fuse.heads import Head
    from cinefeat.fuse.late_fusion import fuse, pick_weight
    from cinefeat.fuse.metrics import evaluate
    from cinefeat.fuse.report import write_report, write_summary
    from cinefeat.fuse.train import predict_proba

    device = resolve_device(device)
    store = _open_store(store_path)
    if late_fusion and len(head_dirs) != 2:
        raise click.ClickException("--late-fusion needs exactly two --head folders")
    runs: dict[str, dict[str, float]] = {}
    outputs = {}
    try:
        for head_dir in head_dirs:
            head = Head.from_pretrained(head_dir, device)
            val, test = _head_data(store, head, split_name, split_file)
            if len(test) == 0:
                raise click.ClickException(
                    "the test split is empty; choose --split with a test set"
                )
            scores = predict_proba(head, test)
            outputs[head_dir] = (
                head,
                predict_proba(head, val) if late_fusion else None,
                scores,
                test.labels.numpy(),
                val.labels.numpy(),
            )
            result = evaluate(test.labels.numpy(), scores, head.label_names, threshold)
            folder = Path(out_dir) / Path(head_dir).name if len(head_dirs) > 1 else Path(out_dir)
            write_report(
                folder,
                result,
                test.labels.numpy(),
                scores,
                head.label_names,
                title=f"{head.name} on {store_path}",
                context={
                    "head": head_dir,
                    "split": _split_label(head, split_name, split_file),
                    "threshold": threshold,
                },
            )
            runs[head_dir] = result.summary
    except (ValueError, KeyError) as error:
        raise click.ClickException(str(error)) from error
    answer: dict[str, Any] = {"runs": runs}
    if late_fusion:
        (head_a, val_a, test_a, y_test, y_val), (head_b, val_b, test_b, _, _) = outputs.values()
        if head_a.label_names != head_b.label_names:
            raise click.ClickException("late fusion needs two heads with the same labels")
        weight = pick_weight(val_a, val_b, y_val)
        fused = fuse(test_a, test_b, weight)
        result = evaluate(y_test, fused, head_a.label_names, threshold)
        write_report(
            Path(out_dir) / "late-fusion",
            result,
            y_test,
            fused,
            head_a.label_names,
            title="Late fusion",
            context={"weight of first head": weight},
        )
        answer["late_fusion"] = {"weight": weight, **result.summary}
    if len(head_dirs) > 1:
        write_summary(out_dir, runs)
    lines = [f"{name}: macro AP {summary['ap_macro']:.4f}" for name, summary in runs.items()]
    if late_fusion:
        lines.append(
            f"late fusion (w={answer['late_fusion']['weight']:.2f}): macro AP "
            f"{answer['late_fusion']['ap_macro']:.4f}"
        )
    echo_result(answer, as_json, "\n".join(lines) + f"\nreport in {out_dir}")


@click.command("tune")
@store_argument
@_arch_option
@_out_option("Folder with one run per grid point, tune.json and best/.")
@click.option(
    "--grid",
    "grid_items",
    multiple=True,
    required=True,
    metavar="KEY=V1,V2",
    help="A grid axis, e.g. --grid lr=1e-5,1e-4 --grid d_model=128,256.",
)
@_data_options
@json_option("the grid summary")
def tune_command(
    store_path: str,
    head_name: str | None,
    deprecated_head_name: str | None,
    out_dir: str,
    grid_items: tuple[str, ...],
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Grid search; the run with the best validation --select-by score is copied to OUT/best."""
    from cinefeat.fuse.heads import HeadConfigError
    from cinefeat.fuse.runs import load_split
    from cinefeat.fuse.tune import parse_grid, run_grid

    head_name = _arch(head_name, deprecated_head_name)
    kwargs["device"] = resolve_device(kwargs["device"])  # a DeviceError before any work
    store = _open_store(store_path)
    try:
        data_options, config, head_options = _options(kwargs)
        grid = parse_grid(list(grid_items))
        data = load_split(store, data_options, head_name)
        summary = run_grid(
            store, data, data_options, head_name, head_options, config, grid, out_dir
        )
    except (HeadConfigError, ValueError, KeyError) as error:
        raise click.ClickException(str(error)) from error
    best = summary["best"]
    score = {"ap_macro": "", "loss": f", loss {-best['score']:.4f}"}.get(
        best["select_by"], f", {best['select_by']} {best['score']:.4f}"
    )
    echo_result(
        summary,
        as_json,
        f"best {best['params']}: validation macro AP {best['val_ap_macro']:.4f}{score} "
        f"-> {Path(out_dir) / 'best'}",
    )


@click.command("split")
@store_argument
@click.option(
    "--kind",
    type=click.Choice(["sorted-id", "stratified", "file"]),
    required=True,
    help="sorted-id: 70/10/20 by id; stratified: iterative stratification per seed; file: "
    "--split-file.",
)
@click.option("--name", default=None, help="Split name (default: derived from --kind).")
@click.option("--seeds", default="0,1,2", show_default=True, help="Stratified: one split per seed.")
@click.option("--folds", type=int, default=None, help="Stratified: k folds instead of 70/10/20.")
@click.option(
    "--split-file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="--kind file: JSON {train,val,test} or CSV id,subset.",
)
@click.option(
    "--top-labels", type=int, default=None, help="Stratify on the K most frequent labels."
)
@click.option("--duration-filter", is_flag=True, help="Only trailers with inlier durations.")
@click.option(
    "--features",
    default="",
    help="Only trailers with rows of these features, e.g. clip,audiotag (the ones you will train "
    "on). Failed trailers and ids without a record are always left out.",
)
@click.option(
    "--partial",
    is_flag=True,
    help="With --features: keep trailers that have rows of at least one of them (gated, gmu).",
)
@json_option("the split sizes")
def split_command(
    store_path: str,
    kind: str,
    name: str | None,
    seeds: str,
    folds: int | None,
    split_file: str | None,
    top_labels: int | None,
    duration_filter: bool,
    features: str,
    partial: bool,
    as_json: bool,
) -> None:
    """Make named train/val/test splits of the labelled trailers and store them.

    Trailers whose extraction failed, labelled ids the store has no record of and (with
    --features) trailers without rows of those features are left out, and counted on stderr.
    """
    import numpy as np

    from cinefeat.fuse import splits as S
    from cinefeat.fuse.runs import split_list
    from cinefeat.fuse.store_data import usable_ids

    store = _open_store(store_path)
    label_names, labels = store.labels()
    if not labels:
        raise click.ClickException(NO_LABELS)
    try:
        ids, left_out = usable_ids(store, sorted(labels), split_list(features), partial)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    if left_out:
        reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(left_out.items()))
        click.echo(
            f"left out {sum(left_out.values())} of {len(labels)} labelled trailers: {reasons}",
            err=True,
        )
    if not ids:
        raise click.ClickException("no labelled trailer is left to split (see above)")
    try:
        if duration_filter:
            durations = {t: store.record(t).duration_s for t in ids if t in store}
            ids = sorted(S.duration_inliers({t: d for t, d in durations.items() if d})[0])
        matrix = np.stack([labels[t] for t in ids])
        if top_labels:
            matrix = matrix[:, S.top_labels(label_names, matrix, top_labels)]
        made: dict[str, S.Split] = {}
        if kind == "sorted-id":
            made[name or "sorted-id"] = S.sorted_id_split(ids)
        elif kind == "file":
            if not split_file:
                raise click.ClickException("--kind file needs --split-file PATH")
            made[name or Path(split_file).stem] = S.read_split_file(split_file)
        else:
            for seed in [int(s) for s in seeds.split(",")]:
                if folds:
                    for i, split in enumerate(S.stratified_folds(ids, matrix, folds, seed)):
                        made[f"{name or 'stratified'}-k{folds}-s{seed}-f{i}"] = split
                else:
                    made[f"{name or 'stratified'}-s{seed}"] = S.stratified_split(ids, matrix, seed)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    for split_name, split in made.items():
        store.set_split(split_name, split)
    sizes = {n: {s: len(v) for s, v in split.items()} for n, split in made.items()}
    echo_result(sizes, as_json, "\n".join(f"{n}: {s}" for n, s in sizes.items()))


COMMANDS: list[click.Command] = [
    train_command,
    evaluate_command,
    tune_command,
    split_command,
    *import_head_commands,
]
