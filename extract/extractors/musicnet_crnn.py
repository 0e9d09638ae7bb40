"""`musicnet-crnn`: the Choi et al. MusicTaggerCRNN feature (32-d last GRU state) per window.

Why besides `musicnet`: the CRNN is the authors' better tagger (its published outputs are our golden
check) and its 32-d recurrent summary is a compact music descriptor for small heads. Same input as
`musicnet` (12 kHz, 29.12 s windows, configurable hop, last window zero-padded); the model pads each
window to 1440 frames itself, as the Keras model did. `output="tags"`/`"both"` as for `musicnet`.
"""

from __future__ import annotations

from typing import Any

from cinefeat.extract import pretrained
from cinefeat.extract.base import register_extractor
from cinefeat.extract.extractors.musicnet import (
    CHOI_LICENCE,
    CHOI_PREPROCESSING,
    CHOI_REPO_RAW,
    ChoiTaggerExtractor,
)

CRNN_WEIGHTS = pretrained.register_weights(
    pretrained.PretrainedWeights(
        name="choi2016-music-tagger-crnn",
        files=(
            pretrained.RemoteFile(
                "music_tagger_crnn_weights_tensorflow.h5",
                CHOI_REPO_RAW.format(filename="music_tagger_crnn_weights_tensorflow.h5"),
                sha256="df63638de9f3113780768181670c554f122fbd1297c63c065836d70a251115a8",
                size=1_649_464,
            ),
        ),
        format="keras1-h5",
        licence=CHOI_LICENCE,
        description="Choi, Fazekas, Sandler & Cho 2017 MusicTaggerCRNN (MSD, 50 last.fm tags)",
        source="github.com/keunwoochoi/music-auto_tagging-keras @ a3e105d",
        preprocessing=CHOI_PREPROCESSING,
    )
)


@register_extractor
class MusicnetCrnnExtractor(ChoiTaggerExtractor):
    name = "musicnet-crnn"
    default_weights = CRNN_WEIGHTS
    feature_dim = 32
    layer = "gru2 last state (32-d, before the 50-tag output)"

    def build(self, path: str) -> Any:
        from cinefeat.extract.nets.choi import load_crnn

        return load_crnn(path)
