"""watchkeeper's services, one package each, all of the same shape:

``config.py`` (settings from the environment), ``logic.py`` (domain logic on decoded
events, no Kafka), ``metrics.py`` (Prometheus), ``app.py`` (Kafka wiring on the shared
runtime) and ``__main__.py`` (``python -m services.<name>``).
"""
