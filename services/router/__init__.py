"""router: alerts from Kafka to on-call webhooks, grouped and deduplicated as Alertmanager.

Domain modules, free of Kafka: ``matchers``, ``routes``, ``alert``, ``dispatch``,
``nflog``, ``webhook``, ``retry``, ``notify`` and ``configfile``; the wiring is in ``app``
and ``kafka_io``. See docs/services/router.md.
"""
