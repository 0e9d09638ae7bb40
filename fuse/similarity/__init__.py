"""Fine-grained similarity (after Fish et al.): NT-Xent fine-tuning of a head's embedding, exact
cosine search, label suggestions for curators, silhouette + 2-D map report.

Names resolve on first use (`cinefeat.store.lazy`): `cinefeat --help` imports this package's CLI
module and must not import torch for it.
"""

from typing import TYPE_CHECKING

from cinefeat.store.lazy import lazy_exports

if TYPE_CHECKING:
    from cinefeat.fuse.similarity.finetune import (
        ContrastiveConfig,
        contrastive_finetune,
        embed_all,
    )
    from cinefeat.fuse.similarity.ntxent import nt_xent
    from cinefeat.fuse.similarity.search import CosineIndex, Neighbour, SimilarityError
    from cinefeat.fuse.similarity.suggest import Suggestion, format_suggestions, suggest_labels
    from cinefeat.fuse.similarity.views import split_halves

_PACKAGE = "cinefeat.fuse.similarity"
_LAZY = {
    "ContrastiveConfig": f"{_PACKAGE}.finetune",
    "contrastive_finetune": f"{_PACKAGE}.finetune",
    "embed_all": f"{_PACKAGE}.finetune",
    "nt_xent": f"{_PACKAGE}.ntxent",
    "CosineIndex": f"{_PACKAGE}.search",
    "Neighbour": f"{_PACKAGE}.search",
    "SimilarityError": f"{_PACKAGE}.search",
    "Suggestion": f"{_PACKAGE}.suggest",
    "format_suggestions": f"{_PACKAGE}.suggest",
    "suggest_labels": f"{_PACKAGE}.suggest",
    "split_halves": f"{_PACKAGE}.views",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())

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
