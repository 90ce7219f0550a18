"""Recorded workflow histories: ``python -m tools.histories record --out DIR``.

Drives every workflow type the worker runs to several phases on the Java time-skipping test
server (the Salesforce and Slack fakes behind it, a fresh SQLite database) and saves each
history as ``<workflow-type-kebab>-<phase>.json``. ``tests/test_replay_histories.py`` replays
them on today's code and proves that every ``*_PATCH`` guard is needed by one of them; see
``docs/changing-workflows.md``.
"""
