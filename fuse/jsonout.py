"""`cinefeat.store.jsonout` under its former name (the encoder moved to `store` so that every
command, store and extract ones included, writes the same valid JSON; issue 20 item 3)."""

from cinefeat.store.jsonout import finite_or_none, json_text

__all__ = ["finite_or_none", "json_text"]
