"""The chaos suite: the real dev server, the worker as a subprocess, the Salesforce and Slack
fakes and PostgreSQL, a mixed workload, and faults injected into all of them; then a count
of duplicate writes, lost effects, failed or stuck workflows and unsurfaced permanent
failures, all four of which must be 0 (``make chaos``, ``tests/test_chaos.py``)."""
