"""Zero-shot multi-label head with temporal attention (Dogan et al.): model, WARP loss, folds,
training, evaluation report, and label ranking for `cinefeat predict --labels`."""

from cinefeat.fuse.zeroshot.checkpoint import ZeroShotHead, load_zero_shot, save_zero_shot
from cinefeat.fuse.zeroshot.data import SequenceTensors
from cinefeat.fuse.zeroshot.folds import greedy_label_folds, zero_shot_split
from cinefeat.fuse.zeroshot.labels import (
    LabelEmbeddings,
    embed_label_names,
    split_label_names,
    token_mean_encoder,
)
from cinefeat.fuse.zeroshot.model import TemporalAttentionZeroShot, ZeroShotConfig
from cinefeat.fuse.zeroshot.rank import rank_label_names, rank_labels, rank_labels_batch
from cinefeat.fuse.zeroshot.warp import warp_loss

__all__ = [
    "LabelEmbeddings",
    "SequenceTensors",
    "TemporalAttentionZeroShot",
    "ZeroShotConfig",
    "ZeroShotHead",
    "embed_label_names",
    "greedy_label_folds",
    "load_zero_shot",
    "rank_label_names",
    "rank_labels",
    "rank_labels_batch",
    "save_zero_shot",
    "split_label_names",
    "token_mean_encoder",
    "warp_loss",
    "zero_shot_split",
]
