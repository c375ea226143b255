"""counter: counts events per topic, model, version and status.

The smallest service on the shared runtime; it proves the runtime end to end, on either
engine (``engine="faust"`` in its spec; ``WK_ENGINE=batch`` runs the same task on the
batch engine).
"""
