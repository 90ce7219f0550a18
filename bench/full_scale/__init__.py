"""The full-scale bench (``make bench``'s headline): see ``bench.full_scale.run``."""
