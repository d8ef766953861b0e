"""Run every ``benchmarks/bench_*.py`` (each in its own process); ``python -m benchmarks [NAME...]``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    if argv:
        unknown = [a for a in argv if a not in names and f"bench_{a}" not in names]
        if unknown:
            print(f"unknown benchmarks {unknown}; known: {', '.join(names)}", file=sys.stderr)
            return 2
        names = [n for n in names if n in argv or n.removeprefix("bench_") in argv]
    failed = []
    for name in names:
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], check=False).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
