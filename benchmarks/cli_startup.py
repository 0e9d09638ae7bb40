"""Start-up cost of the `cinefeat` command: wall time of `--help` for the root and each group.

`--help` is what a user types first and what shell completion runs on every TAB, so it must not
pay for torch or zarr (issue 20, item 8: target under 1 s). Each row runs a fresh interpreter
(`python -m cinefeat.cli.main ARGS --help`), best of `--repeat` runs, and lists which heavy
modules that interpreter imported. Run: `python benchmarks/cli_startup.py [--repeat 5]`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

HEAVY = ("torch", "zarr", "numpy", "sklearn", "matplotlib", "h5py", "transformers", "open_clip")

# Prints the heavy modules loaded after `--help` returns; click exits with SystemExit(0).
PROBE = """
import sys
from cinefeat.cli.main import main
try:
    main(sys.argv[1:], prog_name="cinefeat")
except SystemExit:
    pass
print(",".join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
"""


def groups() -> list[str]:
    """Every command mounted on `cinefeat` (importing main is cheap: that is the point)."""
    from cinefeat.cli.main import main

    return sorted(main.commands)


def time_help(args: list[str], repeat: int) -> tuple[float, str]:
    best = float("inf")
    loaded = ""
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args, "--help"],
            capture_output=True,
            text=True,
            check=True,
        )
        best = min(best, time.perf_counter() - start)
        loaded = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    return best, loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="Runs per row; the best is shown.")
    parser.add_argument("--commands", default="", help="Comma-separated subset (default all).")
    options = parser.parse_args()
    names = [c for c in options.commands.split(",") if c] or groups()
    baseline = interpreter_start(options.repeat)
    print(f"python -c pass: {baseline:.3f} s (interpreter start, best of {options.repeat})")
    print(f"{'command':<34} {'best s':>7}  heavy modules imported")
    for args in [[], *([name] for name in names)]:
        seconds, loaded = time_help(args, options.repeat)
        label = " ".join(["cinefeat", *args, "--help"])
        print(f"{label:<34} {seconds:7.3f}  {loaded or '-'}")


def interpreter_start(repeat: int) -> float:
    """The floor under every row: a bare `python -c pass`."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        best = min(best, time.perf_counter() - start)
    return best


if __name__ == "__main__":
    main()
