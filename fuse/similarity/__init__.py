"""Fine-grained similarity (after Fish et al.): NT-Xent fine-tuning of a head's embedding, exact
cosine search, label suggestions for curators, silhouette + 2-D map report."""

from cinefeat.fuse.similarity.finetune import ContrastiveConfig, contrastive_finetune, embed_all
from cinefeat.fuse.similarity.ntxent import nt_xent
from cinefeat.fuse.similarity.search import CosineIndex, Neighbour, SimilarityError
from cinefeat.fuse.similarity.suggest import Suggestion, format_suggestions, suggest_labels
from cinefeat.fuse.similarity.views import split_halves

__all__ = [
    "ContrastiveConfig",
    "CosineIndex",
    "Neighbour",
    "SimilarityError",
    "Suggestion",
    "contrastive_finetune",
    "embed_all",
    "format_suggestions",
    "nt_xent",
    "split_halves",
    "suggest_labels",
]
