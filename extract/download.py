"""The weights transport, now `cinefeat.store.http_download` (releases download through it too).

Why an alias and not a copy: one transport for weights and releases, and `pretrained` and the
tests patch this module's globals (`BACKOFF_S`, `CHUNK`, `ATTEMPTS`, `time`); binding the name to
the very module object keeps every such patch effective. store may not import extract, so the
code lives in store.
"""

import sys

from cinefeat.store import http_download

sys.modules[__name__] = http_download
