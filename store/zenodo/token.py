"""Where the Zenodo access token comes from, and how it is kept out of every message.

The token comes from `ZENODO_TOKEN` (or `ZENODO_SANDBOX_TOKEN` for the sandbox) or from a file,
never from a command-line argument: arguments end up in shell history and `ps` output. Every
error message the client builds goes through `Redactor.redact`, and a logging filter replaces it in
any record that reaches a handler, so a token cannot leak into logs or CI output.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cinefeat.store.zenodo.errors import ZenodoAuthError

REDACTED = "***"


def load_token(token_file: str | Path | None = None, sandbox: bool = False) -> str:
    """The token from `token_file`, else `ZENODO_SANDBOX_TOKEN` (sandbox) or `ZENODO_TOKEN`."""
    if token_file is not None:
        path = Path(token_file)
        if not path.is_file():
            raise ZenodoAuthError(f"token file {path} does not exist; create it with your token")
        token = path.read_text(encoding="utf-8").strip()
        if not token:
            raise ZenodoAuthError(f"token file {path} is empty; put your Zenodo token in it")
        return token
    names = ["ZENODO_SANDBOX_TOKEN", "ZENODO_TOKEN"] if sandbox else ["ZENODO_TOKEN"]
    for name in names:
        token = os.environ.get(name, "").strip()
        if token:
            return token
    site = "sandbox.zenodo.org" if sandbox else "zenodo.org"
    raise ZenodoAuthError(
        f"no Zenodo token: create one at https://{site}/account/settings/applications/tokens/new/ "
        f"(scopes deposit:write and deposit:actions) and export it as {' or '.join(names)}, "
        "or pass --token-file FILE"
    )


class Redactor(logging.Filter):
    """Replaces secrets in strings and in log records (install with `install()`)."""

    def __init__(self, *secrets: str) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def redact(self, text: object) -> str:
        text = str(text)
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self.secrets):
            record.msg = self.redact(message)
            record.args = None
        return True

    def install(self) -> None:
        """Attach to every handler of the root logger (handlers see records of all loggers)."""
        for handler in logging.getLogger().handlers:
            if self not in handler.filters:
                handler.addFilter(self)

    def uninstall(self) -> None:
        for handler in logging.getLogger().handlers:
            handler.removeFilter(self)
