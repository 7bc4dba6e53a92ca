"""Fail `make build` when the SAM build output would break or slow the functions at run time.

Two checks, both on `.aws-sam/build`: every native library is aarch64 (archcheck.py), and every
module ships bytecode a cold start can use (bytecodecheck.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# A script, not a package: `packaging` is also the name of a PyPI package pip and setuptools import,
# so this folder must not shadow it; run as a path, Python puts this folder on sys.path.
import archcheck
import bytecodecheck


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir", type=Path, help="the sam build output, usually .aws-sam/build")
    args = parser.parse_args(argv)
    if not args.build_dir.is_dir():
        print(f"buildcheck: {args.build_dir} is not a directory (run sam build first)", file=sys.stderr)
        return 2
    # Both run, so one build reports every problem it has.
    return archcheck.report(args.build_dir) | bytecodecheck.report(args.build_dir)


if __name__ == "__main__":
    sys.exit(main())
