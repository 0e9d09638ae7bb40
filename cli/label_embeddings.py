"""Label names -> label embeddings with a text encoder of the extract registry (for zero-shot).

Why in cli/: the text encoders live in `extract` and the zero-shot head in `fuse`, which never
import each other. The embeddings record the encoder's registry name, model id and weights
checksum, so `cinefeat predict --labels` can embed new label names with the very same model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def embed_labels(
    names: Sequence[str], encoder: str = "minilm", multiword: str = "mean", device: str = "cpu"
) -> Any:
    """`LabelEmbeddings` of `names`: multi-word labels are the mean of their words' embeddings
    ("mean", Dogan et al.) or the mean-pooled tokens of the whole name ("sentence")."""
    from cinefeat.extract.text.encoders import shared_encoder
    from cinefeat.fuse.zeroshot.labels import embed_label_names, token_mean_encoder

    model = shared_encoder(encoder, device=device)
    provenance = {"encoder": encoder, **model.model_info()}
    return embed_label_names(list(names), token_mean_encoder(model), multiword, provenance)
