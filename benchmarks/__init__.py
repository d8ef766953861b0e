"""sandtable's performance suite (``make bench`` = ``python -m benchmarks``), not part of the tests.

Each ``bench_*.py`` module has a ``main()`` and runs on its own (``python -m
benchmarks.bench_ingest``); ``python -m benchmarks`` runs them all, each in its own process.
"""
