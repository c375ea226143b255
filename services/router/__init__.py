"""router: alerts from Kafka to on-call webhooks, grouped and deduplicated as Alertmanager.

Domain modules, free of Kafka: ``matchers``, ``routes``, ``alert``, ``dispatch``,
``nflog``, ``webhook``, the notifier (``notify``: ``planning``, ``lanes``, ``stages``,
``transport``, ``answers``, ``retry``) and the routing file (``routing_file``,
``routing_nodes``, ``receivers``); settings from the environment in ``settings``; the
wiring is in ``app`` and ``kafka_io``. See docs/services/router.md.
"""
