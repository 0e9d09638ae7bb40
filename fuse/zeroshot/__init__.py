"""Zero-shot multi-label head with temporal attention (Dogan et al.): model, WARP loss, folds,
training, evaluation report, the supervised upper bound, and label ranking for `cinefeat predict
--labels`. The model is a `Head` (registered as `zeroshot`): it is saved, loaded and fed as every
head is (`cinefeat.fuse.checkpoint`, `cinefeat.fuse.data`, `cinefeat.fuse.store_data`).

Names resolve on first use (`cinefeat.store.lazy`): `cinefeat --help` imports this package's CLI
module and must not import torch for it.
"""

from typing import TYPE_CHECKING

from cinefeat.store.lazy import lazy_exports

if TYPE_CHECKING:
    from cinefeat.fuse.zeroshot.folds import greedy_label_folds, zero_shot_split
    from cinefeat.fuse.zeroshot.labels import (
        LabelEmbeddings,
        embed_label_names,
        split_label_names,
        token_mean_encoder,
    )
    from cinefeat.fuse.zeroshot.model import TemporalAttentionZeroShot, ZeroShotConfig
    from cinefeat.fuse.zeroshot.rank import (
        predict_scores,
        rank_label_names,
        rank_labels,
        rank_labels_batch,
    )
    from cinefeat.fuse.zeroshot.warp import warp_loss

_PACKAGE = "cinefeat.fuse.zeroshot"
_LAZY = {
    "greedy_label_folds": f"{_PACKAGE}.folds",
    "zero_shot_split": f"{_PACKAGE}.folds",
    "LabelEmbeddings": f"{_PACKAGE}.labels",
    "embed_label_names": f"{_PACKAGE}.labels",
    "split_label_names": f"{_PACKAGE}.labels",
    "token_mean_encoder": f"{_PACKAGE}.labels",
    "TemporalAttentionZeroShot": f"{_PACKAGE}.model",
    "ZeroShotConfig": f"{_PACKAGE}.model",
    "predict_scores": f"{_PACKAGE}.rank",
    "rank_label_names": f"{_PACKAGE}.rank",
    "rank_labels": f"{_PACKAGE}.rank",
    "rank_labels_batch": f"{_PACKAGE}.rank",
    "warp_loss": f"{_PACKAGE}.warp",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())

__all__ = [
    "LabelEmbeddings",
    "TemporalAttentionZeroShot",
    "ZeroShotConfig",
    "embed_label_names",
    "greedy_label_folds",
    "predict_scores",
    "rank_label_names",
    "rank_labels",
    "rank_labels_batch",
    "split_label_names",
    "token_mean_encoder",
    "warp_loss",
    "zero_shot_split",
]
