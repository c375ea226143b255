"""counter: counts events per topic, model, version and status.

The smallest service on the shared runtime; it proves the runtime end to end.
"""
