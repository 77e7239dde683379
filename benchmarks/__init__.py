"""Benchmarks of jinad mesh: ``python -m benchmarks [--quick] [--only NAME]``.

Each measurement lives in its own module and prints JSON lines through
:mod:`benchmarks.report`; :mod:`benchmarks.runner` runs them in order and
cleans up every process it started. See ``benchmarks/README.md``.
"""
