"""MULAN multi-label data (ARFF + XML label list) and the check of a head against a classical
baseline on it.

MULAN `emotions` (Trohidis et al. 2008: 72 audio features, 6 emotions, given 391/202 split) is
small, real and well studied, so it tells whether a head *and its training loop* are competitive:
the `mlp` head, fed each clip as a feature sequence of length 1, must reach >= 0.97 x the test
macro AP of scikit-learn's one-vs-rest logistic regression with C tuned by cross-validation.
The parser is ours (dense and sparse ARFF, numeric and {0,1} attributes); nothing is unpickled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cinefeat.store.errors import CinefeatError


class ArffError(CinefeatError, ValueError):
    """An ARFF file this parser cannot read; the message says which line."""


@dataclass
class MultiLabelTable:
    features: np.ndarray  # (N, F) float64
    labels: np.ndarray  # (N, C) int
    feature_names: list[str]
    label_names: list[str]


# A quoted name may hold backslash escapes, e.g. MULAN birds' `'Swainson\'s Thrush'`; the escapes
# are Weka's (\\ \' \" \% \t \n \r \b \f), as liac-arff decodes them (renatopp/liac-arff,
# arff.py: `_ESCAPE_SUB_MAP`, `_unquote`).
_QUOTED = r"'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\""
_ATTRIBUTE = re.compile(rf"@attribute\s+({_QUOTED}|[^\s'\"]\S*)\s+(.+)", re.IGNORECASE)
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "b": "\b", "f": "\f"}
_XML_ENTITIES = {"&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'", "&amp;": "&"}


def _unquote(name: str) -> str:
    """An attribute name as written -> the name (quotes removed, escapes decoded)."""
    if len(name) >= 2 and name[0] == name[-1] and name[0] in "'\"":
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), name[1:-1])
    return name


def label_names_from_xml(path: str | Path) -> list[str]:
    """Label names of a MULAN header file, in file order (a regex: no DTD, no external entities)."""
    names = re.findall(r'<label\s+name="([^"]+)"', Path(path).read_text())
    # the five predefined XML entities only (Swainson&apos;s); nothing else is expanded
    entity = re.compile("|".join(map(re.escape, _XML_ENTITIES)))
    return [entity.sub(lambda m: _XML_ENTITIES[m.group()], name) for name in names]


def read_arff(path: str | Path, label_names: list[str]) -> MultiLabelTable:
    attributes: list[str] = []
    rows: list[list[float]] = []
    in_data = False
    for number, raw in enumerate(Path(path).read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("%"):
            continue
        if not in_data:
            match = _ATTRIBUTE.match(line)
            if match:
                attributes.append(_unquote(match.group(1)))
            elif line.lower().startswith("@attribute"):
                raise ArffError(f"{path}:{number}: cannot read attribute declaration {line!r}")
            elif line.lower().startswith("@data"):
                in_data = True
            continue
        try:
            if line.startswith("{"):  # sparse: {index value, ...}
                row = [0.0] * len(attributes)
                for item in line.strip("{}").split(","):
                    if item.strip():
                        index, value = item.split()
                        row[int(index)] = float(value)
            else:
                row = [float(v) for v in line.split(",")]
        except ValueError as error:
            raise ArffError(f"{path}:{number}: cannot read data row ({error})") from error
        if len(row) != len(attributes):
            raise ArffError(f"{path}:{number}: {len(row)} values for {len(attributes)} attributes")
        rows.append(row)
    missing = [name for name in label_names if name not in attributes]
    if missing:
        raise ArffError(f"{path}: labels {missing} are not attributes of the file")
    table = np.asarray(rows, dtype=np.float64)
    label_columns = [attributes.index(name) for name in label_names]
    feature_columns = [i for i in range(len(attributes)) if i not in label_columns]
    return MultiLabelTable(
        features=table[:, feature_columns],
        labels=table[:, label_columns].astype(np.int64),
        feature_names=[attributes[i] for i in feature_columns],
        label_names=list(label_names),
    )


def load_emotions(folder: str | Path) -> tuple[MultiLabelTable, MultiLabelTable]:
    folder = Path(folder)
    names = label_names_from_xml(folder / "emotions.xml")
    return read_arff(folder / "emotions-train.arff", names), read_arff(
        folder / "emotions-test.arff", names
    )


def logistic_regression_baseline(train: MultiLabelTable, test: MultiLabelTable, seed: int = 0):
    """One-vs-rest logistic regression, C chosen by 5-fold CV (macro AP) on the training split."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, KFold
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), OneVsRestClassifier(LogisticRegression(max_iter=5000)))
    grid = {"onevsrestclassifier__estimator__C": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]}
    search = GridSearchCV(
        model, grid, scoring="average_precision", cv=KFold(5, shuffle=True, random_state=seed)
    )
    search.fit(train.features, train.labels)
    return search.predict_proba(test.features), search.best_params_


def mlp_head_scores(
    train: MultiLabelTable, test: MultiLabelTable, seed: int = 0, epochs: int = 300
) -> tuple[np.ndarray, dict[str, Any]]:
    """Train the `mlp` head through the normal loop; each clip is one feature of length 1.

    lr 1e-3 instead of the trailer default 1e-5: 391 examples give ~13 steps per epoch. The
    validation split for early stopping is 15 % of train, by iterative stratification.
    """
    from cinefeat.fuse.data import PaddedFeatures, fit_normalization
    from cinefeat.fuse.heads import FeatureSpec, build_head
    from cinefeat.fuse.splits import _shuffle_split
    from cinefeat.fuse.train import TrainConfig, fit, predict_proba, seed_everything

    def as_data(table: MultiLabelTable, rows: np.ndarray) -> PaddedFeatures:
        sequences = {"audio": [table.features[i : i + 1].astype(np.float32) for i in rows]}
        return PaddedFeatures.from_sequences(
            sequences, table.labels[rows], [str(i) for i in rows], {"audio": 1}
        )

    rest, held_out = _shuffle_split(train.labels, 0.15, seed)
    train_data, val_data = as_data(train, rest), as_data(train, held_out)
    test_data = as_data(test, np.arange(len(test.labels)))
    seed_everything(seed)
    spec = FeatureSpec("audio", train.features.shape[1], 1)
    head = build_head("mlp", [spec], train.label_names, {"hidden": 256, "dropout": 0.5})
    head.normalization = fit_normalization(train_data)
    config = TrainConfig(
        epochs=epochs,
        lr=1e-3,
        batch_size=32,
        pos_weight=1.0,
        patience=30,
        seed=seed,
        weight_decay=1e-4,
        optimizer="adamw",
        device="cpu",
    )
    result = fit(head, train_data, val_data, config)
    return predict_proba(head, test_data), {"best_epoch": result.best_epoch, **config.__dict__}


def compare_on_emotions(folder: str | Path, seed: int = 0) -> dict[str, Any]:
    """Both models on the same split in one run; returns their test macro AP and the ratio."""
    from cinefeat.fuse.metrics import macro_ap

    train, test = load_emotions(folder)
    baseline_scores, best_params = logistic_regression_baseline(train, test, seed)
    head_scores, head_info = mlp_head_scores(train, test, seed)
    baseline, head = macro_ap(test.labels, baseline_scores), macro_ap(test.labels, head_scores)
    return {
        "train": len(train.labels),
        "test": len(test.labels),
        "logreg_ap_macro": baseline,
        "logreg_params": best_params,
        "mlp_ap_macro": head,
        "mlp_training": head_info,
        "ratio": head / baseline,
    }
