"""Benchmarks of dealcycle's Temporal workflows; ``python -m bench`` runs them all.

Kept empty on purpose: the workflow sandbox re-imports ``bench`` for every workflow run
of a class in ``bench.workflows``.
"""
