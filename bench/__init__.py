"""Benchmarks of dealcycle's Temporal workflows; ``python -m bench`` runs them all.

Kept empty on purpose: the workflow sandbox re-imports ``bench`` for every workflow it runs
from a bench module (``bench.noop_workflow``, ``bench.idle_workflow``,
``bench.bare_trial_workflow``).
"""
