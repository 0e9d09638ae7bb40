"""Zenodo publishing (the [publish] extra): a thin REST client, metadata, the publish flow.

`requests` is imported only when a client is made, so the base install imports this package.
See docs/publishing.md.
"""

from cinefeat.store.zenodo.client import SANDBOX_API, ZENODO_API, ZenodoClient
from cinefeat.store.zenodo.errors import (
    ZenodoAuthError,
    ZenodoChecksumError,
    ZenodoError,
    ZenodoMetadataError,
)
from cinefeat.store.zenodo.publish import PublishResult, publish_archive

__all__ = [
    "SANDBOX_API",
    "ZENODO_API",
    "PublishResult",
    "ZenodoAuthError",
    "ZenodoChecksumError",
    "ZenodoClient",
    "ZenodoError",
    "ZenodoMetadataError",
    "publish_archive",
]
