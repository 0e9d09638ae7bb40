"""`cinefeat zeroshot-train | zeroshot-eval` (gathered by fuse/zeroshot_cli.py).

Label embeddings come in as a file (`LabelEmbeddings.save`), made by a text encoder of the extract
component: fuse never imports extract. The folder written by `zeroshot-train` holds the head, the
label folds and the embeddings of every store label, so `zeroshot-eval` needs nothing else.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cinefeat.store.cli_options import (
    device_option,
    echo_result,
    json_option,
    open_store,
    store_argument,
)
from cinefeat.store.errors import NO_LABELS

if TYPE_CHECKING:  # numpy and the zero-shot modules load inside the commands (fast --help)
    from cinefeat.fuse.zeroshot.labels import LabelEmbeddings

SPLIT_FILE = "zeroshot_split.json"

# Options a preset sets; an option given on the command line wins over the preset.
DEFAULTS: dict[str, Any] = {
    "uniform": "mean",
    "lr": 3e-3,
    "optimizer": "adamw",
    "tanh": False,
    "upper_bound": False,
}
# Dogan et al. (IWAENC 2022): f_a / f_s end in tanh, the uniform score sums over steps, SGD with
# lr 0.01 (paper, section 4); their results put the model trained in the supervised scenario next
# to the zero-shot rows as an upper bound (`--compare` adds that row). gamma stays 0.5, the
# paper's value and the default.
PRESETS: dict[str, dict[str, Any]] = {
    "dogan2022": {
        "uniform": "sum",
        "lr": 0.01,
        "optimizer": "sgd",
        "tanh": True,
        "upper_bound": True,
    },
}
STORE_LABELS_FILE = "store_label_embeddings.safetensors"


def _max_len(text: str | None) -> dict[str, int]:
    """`--max-len FEATURE=INT,...` by the parser of `cinefeat train`; `whisker` (or nothing):
    the upper whisker of the training trailers' lengths, for each feature."""
    from cinefeat.fuse.data import DataError
    from cinefeat.fuse.store_data import parse_max_len

    try:
        lengths = parse_max_len(text)
    except DataError as error:
        raise click.BadParameter(str(error), param_hint="--max-len") from error
    return {} if isinstance(lengths, str) else lengths


def _load_embeddings(path: str, names: list[str]) -> LabelEmbeddings:
    from cinefeat.fuse.zeroshot.labels import LabelEmbeddings

    return LabelEmbeddings.load(path).select(names)  # LabelEmbeddingError: shown by cli.main


@click.command("zeroshot-train")
@store_argument
@click.option(
    "--features", required=True, help="Comma-separated store features, e.g. clip,audiotag."
)
@click.option(
    "--label-embeddings",
    "embeddings_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="safetensors file of LabelEmbeddings covering every label of the store.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for the head, its label folds and the store's label embeddings.",
)
@click.option(
    "--rotation",
    type=click.IntRange(0, 2),
    default=0,
    show_default=True,
    help="Which fold trains (the next validates, the one after tests).",
)
@click.option(
    "--gamma",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="Weight of the attention score against the uniform one (0: uniform only).",
)
@click.option(
    "--uniform",
    type=click.Choice(["mean", "sum"]),
    default=None,
    help="Default mean (preset: sum).",
)
@click.option(
    "--joint-dim",
    type=int,
    default=128,
    show_default=True,
    help="Size of the space features and labels are projected into.",
)
@click.option("--hidden-dim", type=int, default=None, help="MLP projections (default linear).")
@click.option("--max-len", default=None, help="FEATURE=INT,... (default: whisker of lengths).")
@click.option("--epochs", type=int, default=40, show_default=True, help="Training epochs.")
@click.option("--batch-size", type=int, default=64, show_default=True, help="Trailers per batch.")
@click.option(
    "--lr", type=float, default=None, help="Default 3e-3 (AdamW); preset dogan2022: 0.01."
)
@click.option(
    "--optimizer",
    type=click.Choice(["adamw", "sgd"]),
    default=None,
    help="Default adamw; the paper (preset dogan2022) uses sgd.",
)
@click.option(
    "--tanh/--no-tanh", default=None, help="End f_a and f_s in tanh (the paper; preset dogan2022)."
)
@click.option(
    "--preset",
    type=click.Choice(sorted(PRESETS)),
    default=None,
    help="The paper's configuration; explicit options override it.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of initialisation and shuffling."
)
@click.option("--compare", is_flag=True, help="Also train gamma=0 and write the comparison report.")
@click.option(
    "--upper-bound/--no-upper-bound",
    default=None,
    help="With --compare, add the supervised upper bound (test labels seen; preset dogan2022).",
)
@device_option
@json_option("the head folder, threshold, unseen labels (and the --compare report)")
def zeroshot_train_command(
    store_path: str,
    features: str,
    embeddings_path: str,
    out_dir: str,
    rotation: int,
    gamma: float,
    uniform: str | None,
    joint_dim: int,
    hidden_dim: int | None,
    max_len: str | None,
    epochs: int,
    batch_size: int,
    lr: float | None,
    optimizer: str | None,
    tanh: bool | None,
    preset: str | None,
    seed: int,
    compare: bool,
    upper_bound: bool | None,
    device: str,
    as_json: bool,
) -> None:
    """Train a zero-shot head with temporal attention on one rotation of the greedy label folds."""
    from cinefeat.fuse.checkpoint import save_head
    from cinefeat.fuse.store_data import feature_lengths, load_labelled, require_features
    from cinefeat.fuse.zeroshot.folds import greedy_label_folds, zero_shot_split
    from cinefeat.fuse.zeroshot.model import ZeroShotConfig
    from cinefeat.fuse.zeroshot.report import compare_zero_shot, format_report, save_report
    from cinefeat.fuse.zeroshot.train import TrainConfig, train_zero_shot
    from cinefeat.store.jsonout import json_text

    given = {
        "uniform": uniform,
        "lr": lr,
        "optimizer": optimizer,
        "tanh": tanh,
        "upper_bound": upper_bound,
    }
    chosen = {**DEFAULTS, **PRESETS.get(preset or "", {})}
    chosen.update({key: value for key, value in given.items() if value is not None})
    store = open_store(store_path)
    names = [f.strip() for f in features.split(",") if f.strip()]
    label_names, labels = store.labels()
    if not labels:
        raise click.ClickException(NO_LABELS)
    embeddings = _load_embeddings(embeddings_path, label_names)
    given_lengths = _max_len(max_len)
    ids = sorted(labels)
    try:  # FoldError, DataError: ValueErrors whose message names the fix
        require_features(store, names)
        lengths = feature_lengths(store, names, ids, given_lengths)
        # training cuts long sequences as the head records it (`equidistant`: a zero-shot label
        # may live in the last shots)
        data = load_labelled(store, names, ids, lengths, crop=ZeroShotConfig.crop)
        targets = data.labels.numpy()
        folds = greedy_label_folds(targets, data.label_names)
        split = zero_shot_split(targets, data.label_names, folds, rotation)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    config = ZeroShotConfig(
        label_dim=embeddings.dim,
        joint_dim=joint_dim,
        hidden_dim=hidden_dim,
        gamma=gamma,
        uniform=chosen["uniform"],
        tanh=chosen["tanh"],
    )
    train_config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=chosen["lr"],
        device=device,
        seed=seed,
        optimizer=chosen["optimizer"],
    )
    try:
        trained = train_zero_shot(data, split, embeddings, config, train_config, lengths)
    except ValueError as error:  # too few trailers, non-finite features: a message, no traceback
        raise click.ClickException(str(error)) from error
    head = trained.model
    head.provenance = {
        **head.provenance,
        "store": str(store_path),
        "features": {f: store.provenance(f) for f in names},
    }
    out = save_head(head, out_dir)
    embeddings.save(out / STORE_LABELS_FILE)
    split_record = {
        "rotation": rotation,
        "folds": folds,
        "labels": split.labels,
        "trailers": {role: [data.ids[i] for i in rows] for role, rows in split.trailers.items()},
        "dropped": split.dropped,
        "train_config": asdict(train_config),
        "history": trained.history,
    }
    (out / SPLIT_FILE).write_text(json_text(split_record))
    answer: dict[str, Any] = {
        "out": str(out),
        "threshold": trained.threshold,
        "best_epoch": trained.best_epoch,
        "unseen_test_labels": split.labels["test"],
    }
    text = (
        f"zero-shot head in {out} (threshold M={trained.threshold:.3f}, best epoch "
        f"{trained.best_epoch}); unseen test labels: {', '.join(split.labels['test'])}"
    )
    if compare:
        report = compare_zero_shot(
            data,
            split,
            embeddings,
            config,
            train_config,
            trained={gamma: trained},
            upper_bound=chosen["upper_bound"],
        )
        save_report(report, out)
        answer["compare"] = report
        text += "\n" + format_report(report)
    echo_result(answer, as_json, text)


@click.command("zeroshot-eval")
@store_argument
@click.option(
    "--head",
    "head_dirs",
    required=True,
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="Zero-shot head folder(s); several heads of one split are compared.",
)
@click.option(
    "--label-embeddings",
    "embeddings_path",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="Default: the store label embeddings saved with the first head.",
)
@json_option("the report")
def zeroshot_eval_command(
    store_path: str, head_dirs: tuple[str, ...], embeddings_path: str | None, as_json: bool
) -> None:
    """Micro/macro F1, per-label AP on the unseen test labels, with the zero-rule baseline."""
    import numpy as np

    from cinefeat.fuse.checkpoint import CheckpointError, load_head
    from cinefeat.fuse.store_data import head_inputs
    from cinefeat.fuse.zeroshot.labels import LabelEmbeddingError
    from cinefeat.fuse.zeroshot.metrics import evaluate_scores, zero_rule
    from cinefeat.fuse.zeroshot.rank import predict_scores
    from cinefeat.fuse.zeroshot.report import format_report

    store = open_store(store_path)
    first = Path(head_dirs[0])
    if not (first / SPLIT_FILE).is_file():
        raise click.ClickException(f"{first} has no {SPLIT_FILE}: train it with zeroshot-train")
    split = json.loads((first / SPLIT_FILE).read_text())
    test_labels, test_ids = split["labels"]["test"], split["trailers"]["test"]
    embeddings = _load_embeddings(embeddings_path or str(first / STORE_LABELS_FILE), test_labels)
    for other in head_dirs[1:]:
        other_split = Path(other) / SPLIT_FILE
        if (
            not other_split.is_file()
            or json.loads(other_split.read_text())["labels"] != split["labels"]
        ):
            raise click.ClickException(
                f"{other} was not trained on the label folds of {first}: train every compared "
                "head with the same store and --rotation"
            )
    methods, targets = {}, None
    for head_dir in head_dirs:
        try:
            head = load_head(head_dir)
            if not head.open_labels:
                raise CheckpointError(
                    f"{head_dir} holds a {head.name!r} head, which scores only its own labels: "
                    "pass a head folder of `cinefeat zeroshot-train`"
                )
            head.check_encoder(embeddings)
            data = head_inputs(store, head, test_ids).take(np.arange(len(test_ids)), test_labels)
        except (CheckpointError, LabelEmbeddingError, ValueError) as error:
            raise click.ClickException(str(error)) from error
        targets = data.labels.numpy()
        scores = predict_scores(head, data, embeddings.vectors)
        name = f"{Path(head_dir).name} (gamma={head.config.gamma:g})"
        methods[name] = evaluate_scores(targets, scores, test_labels, head.decision_threshold)
    methods["zero rule"] = zero_rule(targets, test_labels)
    report = {
        "labels": split["labels"],
        "trailers": {role: len(ids) for role, ids in split["trailers"].items()},
        "dropped_trailers": split["dropped"],
        "methods": methods,
    }
    echo_result(report, as_json, lambda: format_report(report))


COMMANDS: list[click.Command] = [zeroshot_train_command, zeroshot_eval_command]
