"""`python -m bench [NAME ...]`: run every bench/bench_*.py (or the named ones) and print their tables."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    names = argv or sorted(path.stem for path in here.glob("bench_*.py"))
    status = 0
    for name in names:
        module = importlib.import_module(f"bench.{name if name.startswith('bench_') else 'bench_' + name}")
        print(f"\n## {module.__name__}: {(module.__doc__ or '').strip().splitlines()[0]}", flush=True)
        status |= int(module.main())
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
