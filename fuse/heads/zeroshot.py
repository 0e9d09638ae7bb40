"""The zero-shot head in the head registry (`zeroshot`).

Its model lives with the rest of zero-shot learning (`cinefeat.fuse.zeroshot.model`, next to the
label folds, WARP and label ranking); importing that module here, where the registry discovers
head modules, is what registers it, so `load_head`, `cinefeat train --head` and the tests of
every head see it. A module import (not `from ... import`): the model module imports this package
itself, and either may be imported first.
"""

import cinefeat.fuse.zeroshot.model  # noqa: F401  (registers TemporalAttentionZeroShot)
