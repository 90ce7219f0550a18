"""Developer tools that run the whole system (``python -m tools.chaos``)."""
