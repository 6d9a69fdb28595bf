"""The gate on real-world edits (issue 8): a corpus of release edits and injected faults, and its runner.

Run it with `make bench-gate` (see `__main__.py` and docs/performance.md). Nothing third-party is
committed: releases are downloaded into `work/` (git-ignored) on first use.
"""
