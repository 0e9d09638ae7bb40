"""The exit codes of every `cinefeat` command: one scheme, documented in docs/cli.md.

Why one table: scripts and schedulers branch on the code (retry the failed trailers on 3, give up
on 4, fix the command line on 2). `cinefeat extract` defined the scheme first (extract/summary.py);
the other commands use the same numbers for the same meanings, so a code means one thing whatever
the command.
"""

from __future__ import annotations

EXIT_OK = 0  # everything asked for was done (or there was nothing to do)
EXIT_ERROR = 1  # the command could not do its job: a user error (a CinefeatError), a check failed
EXIT_USAGE = 2  # the command line is wrong: unknown option, bad value (click's usage errors)
EXIT_SOME_FAILED = 3  # some items (trailers, videos) failed or are partial; the others are done
EXIT_NOTHING_USABLE = 4  # every item failed: nothing usable came out

EXIT_MEANINGS: dict[int, str] = {
    EXIT_OK: "ok",
    EXIT_ERROR: "error: could not start, or a check failed (the message says why)",
    EXIT_USAGE: "usage: wrong command line",
    EXIT_SOME_FAILED: "some items failed or are partial",
    EXIT_NOTHING_USABLE: "nothing usable: every item failed",
}


def batch_exit_code(ok: int, failed: int) -> int:
    """EXIT_OK, EXIT_SOME_FAILED or EXIT_NOTHING_USABLE for a batch of `ok + failed` items."""
    if failed == 0:
        return EXIT_OK
    return EXIT_SOME_FAILED if ok > 0 else EXIT_NOTHING_USABLE
