"""Heads benchmark: training throughput, peak memory and data-loader share per head, plus the
two quality checks of the heads issue, each printed as a Markdown table.

    OMP_NUM_THREADS=2 python benchmarks/heads_bench.py throughput [--trailers 256] [--device cpu]
    python benchmarks/heads_bench.py mulan          # mlp head vs tuned logistic regression
    python benchmarks/heads_bench.py cooccurrence   # sequence heads vs mlp on a temporal task
    python benchmarks/heads_bench.py mulan-table    # every head vs LR, RF, ML-kNN on emotions
    python benchmarks/heads_bench.py mulan-table --heads mlp --refit --ensemble 5  # train's options
    python benchmarks/heads_bench.py mulan-table --heads mlp --refit --ensemble 25 --bootstrap \
        --subspace 0.5                                 # bagged random-subspace members
    python benchmarks/heads_bench.py mulan-table --heads "" --tune-bagging --ensemble 10

Throughput runs each head in its own process (so peak memory is that head's alone) on a
synthetic store shaped like MovieNet: label frequencies from movienet-label-stats.json, lengths
drawn from its duration quartiles and capped at the paper's 216 CLIP, 64 OCR, 86 ASR,
140 Audiotag, 18 Musicnet, all five features as sequences, each head at its documented defaults,
batch 32, one epoch after one warm-up step. The data loader's share is the time a training step
waits for its next host batch (gathered from the padded in-memory tensors by the prefetch thread),
over the whole step time; the float32 cast, standardisation and host-to-device copy run in the step
and count as compute (`Trainer.data_seconds` / `Trainer.step_seconds`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HEADS = [
    "mlp",
    "single-transformer",
    "multi-transformer",
    "gated",
    "gmu",
    "hierarchical",
    "clip-aggregation",
    "frame-mlp-fusion",
]
STATS = Path(os.environ.get("CINEFEAT_SHARED", "../shared")) / "data" / "movienet-label-stats.json"


def throughput_one(head_name: str, trailers: int, device: str, batch_size: int) -> dict:
    import torch

    from cinefeat.fuse.data import fit_normalization
    from cinefeat.fuse.heads import FeatureSpec, build_head
    from cinefeat.fuse.synthetic_tasks import PAPER_CAPS, movienet_shaped
    from cinefeat.fuse.train import TrainConfig, Trainer, seed_everything
    from cinefeat.store.console import set_quiet

    set_quiet(True)
    seed_everything(0)
    names, data = movienet_shaped(STATS, trailers)
    specs = [FeatureSpec(n, int(v.shape[-1]), PAPER_CAPS[n]) for n, v in data.values.items()]
    head = build_head(head_name, specs, names)
    head.normalization = fit_normalization(data)
    config = TrainConfig(epochs=1, lr=1e-5, batch_size=batch_size, device=device)
    trainer = Trainer(head, data, None, config)
    head.to(trainer.device)
    warm = data.subset(range(batch_size))
    Trainer(head, warm, None, config).fit()  # warm-up: allocator, kernels, lazy inits
    if trainer.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - started
    stages = len(head.stages)
    peak_gpu = torch.cuda.max_memory_allocated() / 2**20 if trainer.device.type == "cuda" else None
    return {
        "head": head_name,
        "parameters": sum(p.numel() for p in head.parameters()),
        "trailers_per_s": trailers * stages / trainer.step_seconds,
        "wall_s": seconds,
        "data_share": trainer.data_seconds / trainer.step_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_gpu_mb": peak_gpu,
        "device": str(trainer.device),
        "threads": torch.get_num_threads(),
    }


def throughput(args: argparse.Namespace) -> None:
    rows = []
    for name in args.heads.split(","):
        command = [
            sys.executable,
            __file__,
            "throughput-one",
            "--head",
            name,
            "--trailers",
            str(args.trailers),
            "--device",
            args.device,
            "--batch-size",
            str(args.batch_size),
        ]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(output.strip().splitlines()[-1]))
        print(f"done {name}", file=sys.stderr)
    first = rows[0]
    print(
        f"\n{args.trailers} synthetic MovieNet-shaped trailers, batch {args.batch_size}, "
        f"device {first['device']}, torch threads {first['threads']}\n"
    )
    print(
        "| head | parameters | trailers/s | vs mlp | data loader share | peak RSS MB | "
        "peak GPU MB |"
    )
    print("|---|---|---|---|---|---|---|")
    base = rows[0]["trailers_per_s"] if rows[0]["head"] == "mlp" else None
    for r in rows:
        ratio = f"{r['trailers_per_s'] / base:.2f}" if base else "-"
        gpu = f"{r['peak_gpu_mb']:.0f}" if r["peak_gpu_mb"] is not None else "-"
        print(
            f"| {r['head']} | {r['parameters']:,} | {r['trailers_per_s']:.1f} | {ratio} | "
            f"{100 * r['data_share']:.1f} % | {r['peak_rss_mb']:.0f} | {gpu} |"
        )


def mulan(args: argparse.Namespace) -> None:
    from cinefeat.fuse.mulan import compare_on_emotions
    from cinefeat.store.console import set_quiet

    set_quiet(True)
    folder = STATS.parent / "mulan-emotions"
    print("| seed | logistic regression (CV-tuned C) macro AP | mlp head macro AP | ratio |")
    print("|---|---|---|---|")
    for seed in [int(s) for s in args.seeds.split(",")]:
        r = compare_on_emotions(folder, seed)
        c = r["logreg_params"]["onevsrestclassifier__estimator__C"]
        print(
            f"| {seed} | {r['logreg_ap_macro']:.4f} (C={c}) | {r['mlp_ap_macro']:.4f} | "
            f"{r['ratio']:.3f} |"
        )


def cooccurrence(args: argparse.Namespace) -> None:
    from cinefeat.fuse.heads import FeatureSpec, build_head
    from cinefeat.fuse.metrics import macro_ap
    from cinefeat.fuse.synthetic_tasks import cooccurrence_task
    from cinefeat.fuse.train import TrainConfig, fit, predict_proba, seed_everything
    from cinefeat.store.console import set_quiet

    set_quiet(True)
    configs = {
        "mlp": {"hidden": 64, "dropout": 0.1},
        "single-transformer": {"d_model": 32, "heads": 4, "dropout": 0.1},
        "multi-transformer": {"d_model": 32, "heads": 4, "dropout": 0.1},
    }
    lengths = [int(n) for n in args.lengths.split(",")]
    print("| frames per sequence | prevalence | " + " | ".join(configs) + " |")
    print("|---|---|" + "---|" * len(configs))
    for length in lengths:
        train = cooccurrence_task(args.train, length, seed=0)
        val, test = cooccurrence_task(400, length, seed=1), cooccurrence_task(1000, length, seed=2)
        cells = []
        for name, config in configs.items():
            seed_everything(0)
            head = build_head(
                name, [FeatureSpec("frames", 8, length)], ["p0", "p1", "p2", "p3"], config
            )
            fit(
                head,
                train,
                val,
                TrainConfig(epochs=args.epochs, lr=1e-3, pos_weight=1.0, patience=8, device="cpu"),
            )
            cells.append(f"{macro_ap(test.labels.numpy(), predict_proba(head, test)):.3f}")
        prevalence = float(test.labels.mean())
        print(f"| {length} | {prevalence:.3f} | " + " | ".join(cells) + " |")


# ---------------------------------------------------------------------------------------------
# MULAN emotions: every head that accepts the data against three classical multi-label baselines.

RECIPE = {  # the documented small-data recipe (docs/training.md, docs/bench-heads.md)
    "epochs": 300,
    "lr": 1e-3,
    "batch_size": 32,
    "pos_weight": 1.0,
    "patience": 30,
    "weight_decay": 1e-4,
    "optimizer": "adamw",
    "device": "cpu",
}
TABLE_HEADS = [  # cheapest first
    "mlp",
    "mlp:sulun2024",
    "gmu",
    "gated",
    "clip-aggregation",
    "multi-transformer",
    "single-transformer",
    "hierarchical",
    "frame-mlp-fusion",
]


class MLkNN:
    """ML-kNN (Zhang & Zhou, *ML-KNN: A lazy learning approach to multi-label learning*, 2007).

    Per label l: prior P(y_l = 1) and, for j = 0..k, P(j of the k neighbours have l | y_l = b),
    both Laplace-smoothed with `s`, counted over the training set with each point's own k
    nearest neighbours (itself excluded); a test point's score is the posterior
    P(y_l = 1 | its neighbours' count). Euclidean distance, as in the paper.
    """

    def __init__(self, k: int = 10, s: float = 1.0):
        self.k, self.s = k, s

    def fit(self, features, labels):
        import numpy as np
        from sklearn.neighbors import NearestNeighbors

        labels = np.asarray(labels, dtype=int)
        self.labels, count, k, s = labels, len(labels), self.k, self.s
        self.index = NearestNeighbors(n_neighbors=k + 1).fit(features)
        _, neighbours = self.index.kneighbors(features)
        # drop each point itself (first unless a duplicate ties with it: drop it wherever it is)
        own = neighbours == np.arange(count)[:, None]
        own[~own.any(axis=1), -1] = True
        neighbours = neighbours[~own].reshape(count, k)
        counts = labels[neighbours].sum(axis=1)  # (N, C): neighbours with each label
        self.prior = (s + labels.sum(axis=0)) / (2 * s + count)
        self.likely = np.zeros((k + 1, labels.shape[1]))  # P(count j | y = 1)
        self.unlikely = np.zeros((k + 1, labels.shape[1]))  # P(count j | y = 0)
        for j in range(k + 1):
            hit = counts == j
            self.likely[j] = (labels * hit).sum(axis=0)
            self.unlikely[j] = ((1 - labels) * hit).sum(axis=0)
        self.likely = (s + self.likely) / (s * (k + 1) + self.likely.sum(axis=0))
        self.unlikely = (s + self.unlikely) / (s * (k + 1) + self.unlikely.sum(axis=0))
        return self

    def predict_proba(self, features):
        import numpy as np

        _, neighbours = self.index.kneighbors(features, n_neighbors=self.k)
        counts = self.labels[neighbours].sum(axis=1)
        columns = np.arange(counts.shape[1])
        yes = self.prior * self.likely[counts, columns]
        no = (1 - self.prior) * self.unlikely[counts, columns]
        return yes / (yes + no)


def multilabel_metrics(labels, scores) -> dict[str, float]:
    """Macro AP, ranking loss, Hamming loss (scores > 0.5), one-error and coverage.

    Coverage in MULAN's convention (how far down the ranking one must go to cover every true
    label, counted from 0): scikit-learn's `coverage_error` minus 1.
    """
    import numpy as np
    from sklearn.metrics import coverage_error, hamming_loss

    from cinefeat.fuse.metrics import macro_ap, ranking_loss

    labels, scores = np.asarray(labels, dtype=int), np.asarray(scores, dtype=np.float64)
    top = scores.argmax(axis=1)
    return {
        "macro_ap": macro_ap(labels, scores),
        "ranking_loss": ranking_loss(labels, scores),
        "hamming_loss": float(hamming_loss(labels, (scores > 0.5).astype(int))),
        "one_error": float(1.0 - labels[np.arange(len(labels)), top].mean()),
        "coverage": float(coverage_error(labels, scores) - 1.0),
    }


def random_forest_scores(train, test, seed: int):
    """A random forest (native multi-output), max_features and min_samples_leaf by 5-fold CV."""
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import GridSearchCV, KFold

    grid = {"max_features": ["sqrt", 0.3, 0.6], "min_samples_leaf": [1, 3, 6]}
    forest = RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=2)
    search = GridSearchCV(
        forest, grid, scoring="average_precision", cv=KFold(5, shuffle=True, random_state=seed)
    )
    search.fit(train.features, train.labels)
    per_label = search.predict_proba(test.features)
    return np.stack([p[:, 1] for p in per_label], axis=1), search.best_params_


def mlknn_scores(train, test):
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train.features)
    model = MLkNN(k=10).fit(scaler.transform(train.features), train.labels)
    return model.predict_proba(scaler.transform(test.features))


def mlknn_reference_check(train, test) -> str:
    """Our ML-kNN against scikit-multilearn's, when that package is installed."""
    import numpy as np
    from sklearn.preprocessing import StandardScaler

    try:
        from skmultilearn.adapt import MLkNN as Reference
        from skmultilearn.adapt import mlknn as reference_module
    except ImportError:
        return "scikit-multilearn not installed: ML-kNN not cross-checked"
    from sklearn.neighbors import NearestNeighbors

    # scikit-multilearn 0.2.0 calls NearestNeighbors(k) positionally, which scikit-learn >= 1.0
    # refuses; give it a keyword-taking stand-in (same estimator).
    reference_module.NearestNeighbors = lambda k, **kw: NearestNeighbors(n_neighbors=k, **kw)
    # Its predict_proba returns the unnormalised P(H1) P(E | H1), and with
    # ignore_first_neighbours=1 it leaves each training point out of its own neighbours as the
    # paper does (but then also skips the nearest neighbour at test time). So compare what both
    # learn: the priors and the two tables of neighbour-count likelihoods.
    x_train = StandardScaler().fit_transform(train.features)
    ours = MLkNN(k=10).fit(x_train, train.labels)
    reference = Reference(k=10, s=1.0, ignore_first_neighbours=1)
    reference.fit(x_train, train.labels)
    gaps = [
        np.abs(ours.prior - np.asarray(reference._prior_prob_true)).max(),
        np.abs(ours.likely.T - reference._cond_prob_true.toarray()).max(),
        np.abs(ours.unlikely.T - reference._cond_prob_false.toarray()).max(),
    ]
    return (
        "ML-kNN vs scikit-multilearn 0.2.0 (fitted priors and likelihood tables): max |difference| "
        f"{max(gaps):.1e}"
    )


def head_scores(name: str, train, test, seed: int, options=None, recipe=None):
    """One head through the normal training loop; each clip is one feature row of length 1.

    Returns test scores, best epoch and best validation macro AP (15 % of train held out).
    `recipe` may set `refit` (retrain on all of train for the chosen epochs) and `ensemble`
    (K seeds averaged), through `cinefeat.fuse.ensemble.fit_recipe` as `cinefeat train` does.
    """
    import numpy as np

    from cinefeat.fuse.data import PaddedFeatures
    from cinefeat.fuse.ensemble import fit_recipe
    from cinefeat.fuse.heads import FeatureSpec, build_head
    from cinefeat.fuse.splits import _shuffle_split
    from cinefeat.fuse.train import TrainConfig, predict_proba

    def as_data(table, rows):
        sequences = {"audio": [table.features[i : i + 1].astype(np.float32) for i in rows]}
        return PaddedFeatures.from_sequences(
            sequences, table.labels[rows], [str(i) for i in rows], {"audio": 1}
        )

    rest, held_out = _shuffle_split(train.labels, 0.15, seed)
    train_data, val_data = as_data(train, rest), as_data(train, held_out)
    whole_train = as_data(train, np.arange(len(train.labels)))  # what --refit trains on
    test_data = as_data(test, np.arange(len(test.labels)))
    spec = FeatureSpec("audio", train.features.shape[1], 1)
    config = TrainConfig(seed=seed, **{**RECIPE, **(recipe or {})})
    head, result, done = fit_recipe(
        lambda: build_head(name, [spec], train.label_names, options),
        train_data,
        val_data,
        config,
        refit_train=whole_train,
    )
    # an ensemble without refit is scored on the hold-out as a whole (fit_recipe's recipe)
    val_ap = done.get("ensemble_val_ap_macro", result.best_val_ap)
    return predict_proba(head, test_data), result.best_epoch, val_ap


BAGGING_GRID = [
    {"bootstrap": bootstrap, "subspace": subspace}
    for bootstrap in (False, True)
    for subspace in (0.3, 0.5, 0.7)
]


def tuned_bagging_scores(train, test, seed: int, ensemble: int):
    """`--bootstrap` and `--subspace` chosen on the validation hold-out only: each grid point
    trains the K-member ensemble on 85 % of train and is scored on the 15 % hold-out as a whole;
    the chosen one is then refit on all of train (`--refit`) and scored on test once."""
    best = None
    for point in BAGGING_GRID:
        recipe = {**point, "ensemble": ensemble, "refit": False}
        _, _, val_ap = head_scores("mlp", train, test, seed, recipe=recipe)
        if best is None or val_ap > best[1]:
            best = (point, val_ap)
    chosen, val_ap = best
    recipe = {**chosen, "ensemble": ensemble, "refit": True}
    scores, epoch, _ = head_scores("mlp", train, test, seed, recipe=recipe)
    return scores, epoch, val_ap, chosen


MLP_GRID = [
    ({"hidden": hidden, "dropout": dropout}, {"weight_decay": decay})
    for hidden in (256, 1024)
    for dropout in (0.5, 0.8)
    for decay in (1e-4, 1e-2)
]


def tuned_mlp_scores(train, test, seed: int):
    """The mlp head with hidden, dropout and weight decay chosen on the validation hold-out
    (what `cinefeat tune` does), as the baselines have their parameters chosen by CV."""
    best = None
    for options, recipe in MLP_GRID:
        scores, epoch, val_ap = head_scores("mlp", train, test, seed, options, recipe)
        if best is None or val_ap > best[2]:
            best = (scores, epoch, val_ap, {**options, **recipe})
    return best


def mulan_table(args: argparse.Namespace) -> None:
    import numpy as np

    from cinefeat.fuse.mulan import load_emotions, logistic_regression_baseline
    from cinefeat.store.console import set_quiet

    set_quiet(True)
    train, test = load_emotions(STATS.parent / "mulan-emotions")
    seeds = [int(s) for s in args.seeds.split(",")]
    rows: dict[str, list[dict[str, float]]] = {}
    notes = []
    for seed in [] if args.skip_classical else seeds:
        scores, params = logistic_regression_baseline(train, test, seed)
        rows.setdefault("logistic regression (CV C)", []).append(
            multilabel_metrics(test.labels, scores)
        )
        notes.append(f"seed {seed}: LR {params}")
        scores, params = random_forest_scores(train, test, seed)
        rows.setdefault("random forest (CV)", []).append(multilabel_metrics(test.labels, scores))
        notes.append(f"seed {seed}: RF {params}")
        print(f"done classical seed {seed}", file=sys.stderr)
    if not args.skip_classical:
        rows["ML-kNN (k=10)"] = [multilabel_metrics(test.labels, mlknn_scores(train, test))]
        notes.append(mlknn_reference_check(train, test))
    classical = list(rows)
    recipe = {
        "refit": args.refit,
        "ensemble": args.ensemble,
        "bootstrap": args.bootstrap,
        "subspace": args.subspace,
    }
    suffix = ", ".join(
        (["refit"] if args.refit else [])
        + ([f"ensemble {args.ensemble}"] if args.ensemble > 1 else [])
        + (["bootstrap"] if args.bootstrap else [])
        + ([f"subspace {args.subspace:g}"] if args.subspace < 1 else [])
    )
    for head_name in filter(None, args.heads.split(",")):
        name = f"{head_name} ({suffix})" if suffix else head_name
        for seed in seeds:
            try:
                scores, best, _ = head_scores(head_name, train, test, seed, recipe=recipe)
            except Exception as error:  # a head that cannot take length-1 data: say so
                notes.append(f"{name}: does not accept the data ({error})")
                break
            rows.setdefault(name, []).append(multilabel_metrics(test.labels, scores))
            notes.append(f"{name} seed {seed}: best epoch {best}")
            if args.json:  # after every run, so a long table can be read while it grows
                Path(args.json).write_text(json.dumps({"rows": rows, "notes": notes}, indent=2))
        print(f"done {name} {rows.get(name, [{}])[-1]}", file=sys.stderr)
    if args.tune_mlp:
        for seed in seeds:
            scores, best, _, chosen = tuned_mlp_scores(train, test, seed)
            rows.setdefault("mlp (tuned on validation)", []).append(
                multilabel_metrics(test.labels, scores)
            )
            notes.append(f"mlp tuned seed {seed}: {chosen}, best epoch {best}")
        print("done tuned mlp", file=sys.stderr)
    if args.tune_bagging:
        name = f"mlp (refit, ensemble {args.ensemble}, bagging tuned on validation)"
        for seed in seeds:
            scores, best, val_ap, chosen = tuned_bagging_scores(train, test, seed, args.ensemble)
            rows.setdefault(name, []).append(multilabel_metrics(test.labels, scores))
            notes.append(f"{name} seed {seed}: {chosen} (validation {val_ap:.4f}), epoch {best}")
            print(f"done {name} seed {seed}: {chosen}", file=sys.stderr)
    best_classical = max((np.mean([r["macro_ap"] for r in rows[n]]) for n in classical), default=0)
    keys = ["macro_ap", "ranking_loss", "hamming_loss", "one_error", "coverage"]
    print(
        f"\nMULAN emotions, {len(train.labels)} train / {len(test.labels)} test, seeds {seeds} "
        "(mean +- std over seeds; ML-kNN is deterministic)\n"
    )
    print(
        "| model | macro AP (up) | vs best classical | ranking loss | Hamming loss | one-error "
        "| coverage |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, runs in rows.items():
        cells = []
        for key in keys:
            values = np.array([r[key] for r in runs])
            spread = f" +- {values.std():.3f}" if len(values) > 1 else ""
            cells.append(
                f"{values.mean():.4f}{spread}"
                if key != "coverage"
                else f"{values.mean():.3f}{spread}"
            )
        ratio = np.mean([r["macro_ap"] for r in runs]) / best_classical if classical else None
        cells.insert(1, f"{ratio:.3f}" if ratio else "-")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()
    for note in notes:
        print(f"- {note}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "notes": notes}, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--heads", default=",".join(HEADS))
    t.add_argument("--trailers", type=int, default=256)
    t.add_argument("--device", default="auto")
    t.add_argument("--batch-size", type=int, default=32)
    one = sub.add_parser("throughput-one")
    one.add_argument("--head", required=True)
    one.add_argument("--trailers", type=int, default=256)
    one.add_argument("--device", default="auto")
    one.add_argument("--batch-size", type=int, default=32)
    m = sub.add_parser("mulan")
    m.add_argument("--seeds", default="0,1,2")
    table = sub.add_parser("mulan-table")
    table.add_argument("--seeds", default="0,1,2")
    table.add_argument("--heads", default=",".join(TABLE_HEADS))
    table.add_argument("--tune-mlp", action="store_true", help="Add the validation-tuned mlp.")
    table.add_argument(
        "--refit", action="store_true", help="Heads: refit on all of train (train --refit)."
    )
    table.add_argument(
        "--ensemble", type=int, default=1, help="Heads: K seeds averaged (train --ensemble K)."
    )
    table.add_argument(
        "--tune-bagging",
        action="store_true",
        help="Add the mlp with --bootstrap/--subspace chosen on the validation hold-out.",
    )
    table.add_argument(
        "--bootstrap", action="store_true", help="Heads: bagged members (train --bootstrap)."
    )
    table.add_argument(
        "--subspace", type=float, default=1.0, help="Heads: column share (train --subspace F)."
    )
    table.add_argument(
        "--skip-classical",
        action="store_true",
        help="Heads only (a quick look at a recipe); ratios then need the full table.",
    )
    table.add_argument("--json", default=None, help="Also write every run's metrics here.")
    c = sub.add_parser("cooccurrence")
    c.add_argument("--lengths", default="8,16,32")
    c.add_argument("--train", type=int, default=2000)
    c.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()
    if args.command == "throughput-one":
        print(json.dumps(throughput_one(args.head, args.trailers, args.device, args.batch_size)))
    else:
        commands = {
            "throughput": throughput,
            "mulan": mulan,
            "mulan-table": mulan_table,
            "cooccurrence": cooccurrence,
        }
        commands[args.command](args)


if __name__ == "__main__":
    main()
