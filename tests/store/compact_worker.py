"""A compaction process that freezes at a chosen point so a test can SIGKILL it there.

`--freeze copy`: inside the copy of the first feature (staging half written); `--freeze switch`:
right after the compacted part was moved into `parts/`, before the replaced parts are deleted.
The process creates `--marker` when it freezes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cinefeat.store.compact as compact_module
from cinefeat.store import FeatureStore


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", required=True)
    parser.add_argument("--freeze", choices=["copy", "switch"], required=True)
    parser.add_argument("--marker", required=True)
    args = parser.parse_args()

    def freeze() -> None:
        Path(args.marker).write_text("frozen")
        time.sleep(3600)

    real_feature, real_cleanup = compact_module.write_feature, compact_module.cleanup
    calls = {"cleanup": 0}

    def write_feature(*a, **k):  # type: ignore[no-untyped-def]
        if args.freeze == "copy":
            freeze()
        return real_feature(*a, **k)

    def cleanup(path: Path) -> list[str]:
        calls["cleanup"] += 1
        if args.freeze == "switch" and calls["cleanup"] == 2:
            freeze()
        return real_cleanup(path)

    compact_module.write_feature = write_feature
    compact_module.cleanup = cleanup
    compact_module.compact(FeatureStore.open(args.store))


if __name__ == "__main__":
    main()
