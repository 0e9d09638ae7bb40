"""The recorded config hash of the pretrained extractors, pinned as main recorded it (b9d08cb).

Why: a store skips a feature whose provenance hash it already holds; if a refactor of the
extractors changed what they record (a key renamed, a default moved), every store made before
would recompute CLIP, ViT, I3D, image and video features for nothing. The hashes are computed
before `load()` (no weights needed); after it only `weights_sha256` fills in.
"""

from __future__ import annotations

import pytest

from cinefeat.extract.extractors import EXTRACTORS

PINNED = [
    ("clip", {}, "b29b4917208f72739fb9c35d7499766277ed4ebb7d214265ecab0f84511391b1"),
    ("clip", {"model": "ViT-B-16"},
     "3aa054f7f03e401e7c6727f769389f5c0ccd980a950f5a3f82a3d44b368c6a26"),
    ("clip", {"normalize": False, "sampler": "every-k"},
     "9fe4f0f6ee9bde4052b36366ee81b88b4353f019f93f58a693e61a6c9c0a88d2"),
    ("vit", {}, "ab0ed0b2027de5c7c7752f1519777a924b3de6113872fe20d903fde51f67188c"),
    ("vit", {"backbone": "vit_h_14_swag"},
     "5b1985824aa467cc039d9985610730c25cd7501779866162f2a3caa0a803e42b"),
    ("i3d", {}, "41f317207a12d4d4ae12e1621882bae52b031323db3fc338aed0eaf2d9c07ce2"),
    ("i3d", {"frames_per_clip": 64, "fps": 25},
     "962d58e10c5fbf328d9b063e3b3710c5bcf878c7fa3f296248b5259dd0ed98d3"),
    ("i3d", {"stream": "flow"},
     "b54df578d318cf6658eac3c856f9e5566a4eb7287d4c55f785c88b4f341b957d"),
    ("i3d", {"stream": "two-stream", "flow_model": "raft_large"},
     "d0bc2516938f7f7e2ae27825184425eeaaaf8ae9139815741134f2f284a57346"),
    ("image", {}, "88ac05cc39227dd5d6eaa59b64bcb0fa4ccb303e191f88e0d26c7f28a5c13f66"),
    ("video", {}, "119d925ed1cacc9f8dc86dec01d63d981611435801cb7d0c989be470fbc4b73d"),
    ("video", {"model": "s3d"},
     "6b11a6654f21e58ec3d20f55345ccd8d014635b400665134822797aefe50b3e4"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "options", "expected"), PINNED, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(PINNED)]
)
def test_config_hash_is_what_main_recorded(name, options, expected):
    assert EXTRACTORS.create(name, **options).provenance()["config_hash"] == expected
