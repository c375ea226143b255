"""Receivers' integrations, all of one shape (``base.Integration``): a config, ``render``
(a notice into a request), ``send`` and ``classify`` (the answer into ok, retry or
reject). One module per service: ``webhook`` (Alertmanager's body, signed), ``slack``,
``pagerduty``, ``opsgenie``, ``email``."""
