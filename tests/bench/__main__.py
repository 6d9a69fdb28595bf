"""`python -m tests.bench`: run every benchmark in turn (`make bench`)."""

from __future__ import annotations

import importlib
import sys

BENCHES = ("tests.bench.bench_gate_diagnostics", "tests.bench.bench_mcp", "tests.bench.bench_commander")


def main() -> int:
    for name in BENCHES + tuple(a for a in sys.argv[1:] if a.startswith("tests.bench.")):
        module = importlib.import_module(name)
        print(f"\n=== {name} ===", flush=True)
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
