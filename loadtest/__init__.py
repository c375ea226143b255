"""Benchmarks (``make bench``) and the demo (``make demo``).

Every benchmark measures its baseline in the same run, on the same machine, and prints
ratios: absolute times on a shared machine wobble, ratios much less.
"""
