"""Receivers' integrations, all of one shape (``base.Integration``): a config, ``render``
(a notice into a request), and ``send``: one attempt, answered as an ``Answer`` (ok,
retry or reject) whatever the protocol. One module per service: ``webhook``
(Alertmanager's body, signed), ``slack``, ``pagerduty``, ``opsgenie``, ``email``."""
