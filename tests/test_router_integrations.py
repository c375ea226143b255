"""Receivers as their services see them, each a real local server speaking its protocol:
PagerDuty Events v2 (trigger, acknowledge, resolve under one dedup key), Slack (blocks and
an ack link that works), Opsgenie (create, acknowledge, close), email over SMTP (aiosmtpd),
a generic webhook whose Standard Webhooks signatures an independent verifier accepts, and
a receiver that is down for a while (delivered once when back, the others unaffected, its
fallback told once, a meta-alert raised and resolved). Secrets never reach a log line."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from watchkeeper.devstack import Response
from watchkeeper.ports import free_port

from .test_router_support import (
    Alerts,
    Clock,
    InProcess,
    receiver,
    settle,
    until,
)

pytestmark = pytest.mark.kafka
__all__ = ["receiver"]

ROUTING_KEY = "R0ut1ngKeyR0ut1ngKeyR0ut1ngKey32"
OPSGENIE_KEY = "0a1b2c3d-og-key-never-to-be-logged"
SLACK_PATH = "/slack/T000/B000/XXXXsecretXXXX"

SERVICES = """
route:
  receiver: pager
  group_by: [alertname, model]
  group_wait: 0s
  group_interval: 1m
  escalation: page
escalation_policies:
  - name: page
    steps:
      - notify: [chat, genie]
receivers:
  - name: pager
    pagerduty_configs:
      - routing_key: ${PD_KEY}
        url: ${RX}/pd/v2/enqueue
        severity_map: {page: critical}
  - name: chat
    slack_configs:
      - api_url: ${SLACK_URL}
        channel: '#oncall'
        send_resolved: true
  - name: genie
    opsgenie_configs:
      - api_key: ${OG_KEY}
        api_url: ${RX}/og/
        tags: [ml, fraud]
"""


def test_pagerduty_slack_and_opsgenie_trigger_acknowledge_and_resolve(
    kafka_settings, prefix, receiver, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver.script("/pd/v2/enqueue", [], then=202)
    receiver.script("/og/v2/alerts", [], then=202)
    clock = Clock(time.time())
    env = {
        "RX": receiver.url,
        "PD_KEY": ROUTING_KEY,
        "OG_KEY": OPSGENIE_KEY,
        "SLACK_URL": receiver.url + SLACK_PATH,
    }
    rp = InProcess(kafka_settings, prefix, SERVICES, env, clock)

    async def scenario() -> None:
        async with rp as r:
            alerts = Alerts(kafka_settings, prefix, clock)
            alerts.fire("fp-1", severity="page")
            await until(lambda: len(receiver.delivered()) == 3, router=r)

            # PagerDuty: a trigger, keyed by the group.
            (trigger,) = [q.body for q in receiver.delivered("/pd/v2/enqueue")]
            group_key = '{}:{alertname="HighLatencyP99", model="fraud"}'
            dedup = hashlib.sha256(group_key.encode()).hexdigest()
            assert (trigger["event_action"], trigger["dedup_key"]) == ("trigger", dedup)
            assert trigger["routing_key"] == ROUTING_KEY
            payload = trigger["payload"]
            assert payload["severity"] == "critical"
            assert payload["summary"] == "[FIRING] HighLatencyP99 model=fraud"
            assert payload["source"] == "watchkeeper"
            assert payload["custom_details"]["num_firing"] == 1
            assert trigger["links"][0]["text"] == "Acknowledge"

            # Slack: blocks, and a button that acknowledges.
            (slack,) = [q.body for q in receiver.delivered(SLACK_PATH)]
            assert slack["channel"] == "#oncall"
            assert slack["blocks"][0]["text"]["text"] == "[FIRING] HighLatencyP99 model=fraud"
            button = slack["blocks"][-1]["elements"][0]
            assert button["text"]["text"] == "Acknowledge"

            # Opsgenie: an alert created under the same alias.
            (created,) = receiver.delivered("/og/v2/alerts")
            assert created.headers["authorization"] == f"GenieKey {OPSGENIE_KEY}"
            assert created.body["alias"] == dedup and created.body["priority"] == "P1"
            assert created.body["tags"] == ["ml", "fraud"]

            # The link in the message: a GET only shows a page (link scanners prefetch),
            # the form's POST acknowledges.
            link = urllib.parse.urlsplit(button["url"])
            token = urllib.parse.parse_qs(link.query)["t"][0]
            async with httpx.AsyncClient(base_url=rp.api, timeout=10) as client:
                page = await client.get(link.path, params={"t": token})
                assert page.status_code == 200 and "<form" in page.text
                assert r.engine.escalations.get(group_key).status == "triggered"
                forged = await client.post(link.path, data={"t": token[:-2] + "xx"})
                assert forged.status_code == 403
                acked = await client.post(link.path, data={"t": token})
                assert acked.status_code == 200
            await until(lambda: len(receiver.delivered("/pd/v2/enqueue")) == 2, router=r)
            await until(lambda: len(receiver.delivered(SLACK_PATH)) == 2, router=r)
            await until(lambda: len(receiver.requests()) >= 6, router=r)
            ack = receiver.delivered("/pd/v2/enqueue")[1].body
            assert ack == {
                "routing_key": ROUTING_KEY,
                "event_action": "acknowledge",
                "dedup_key": dedup,
            }
            assert "acknowledged by ack link" in json.dumps(receiver.delivered(SLACK_PATH)[1].body)
            og_ack = [q for q in receiver.requests() if q.path.startswith(f"/og/v2/alerts/{dedup}")]
            assert og_ack[0].path == f"/og/v2/alerts/{dedup}/acknowledge?identifierType=alias"
            assert og_ack[0].body["user"] == "ack link"

            alerts.resolve("fp-1", severity="page")
            await until(lambda: "fp-1" not in r.engine.alerts, router=r)
            clock.now += 60
            await until(lambda: len(receiver.delivered("/pd/v2/enqueue")) == 3, router=r)
            await until(lambda: len(receiver.delivered(SLACK_PATH)) == 3, router=r)
            await settle(r)
            resolve = receiver.delivered("/pd/v2/enqueue")[2].body
            assert (resolve["event_action"], resolve["dedup_key"]) == ("resolve", dedup)
            closed = [
                q.path
                for q in receiver.requests()
                if q.path.endswith("/close?identifierType=alias")
            ]
            assert closed == [f"/og/v2/alerts/{dedup}/close?identifierType=alias"]
            metrics_text = httpx.get(f"http://127.0.0.1:{r.http_port}/metrics").text

            for secret in (ROUTING_KEY, OPSGENIE_KEY, SLACK_PATH, token):
                assert secret not in metrics_text

    asyncio.run(scenario())
    for secret in (ROUTING_KEY, OPSGENIE_KEY, "XXXXsecretXXXX"):
        assert secret not in caplog.text


class RawReceiver:
    """A webhook endpoint that keeps the raw bytes (a signature is over bytes, not JSON)."""

    def __init__(self, answers: list[int]) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.answers = answers
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = outer.answers.pop(0) if outer.answers else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def verify_standard_webhook(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """An independent reading of the Standard Webhooks specification: the key is the
    base64 after ``whsec_``; the signed content is ``id.timestamp.body``; the header holds
    space-separated ``v1,<base64>`` signatures, any one of which may match; timestamps
    more than five minutes away are refused."""
    msg_id, stamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(stamp)) > 300:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    for item in headers["webhook-signature"].split(" "):
        version, _, signature = item.partition(",")
        if version == "v1" and hmac.compare_digest(base64.b64decode(signature), expected):
            return True
    return False


SIGNED = """
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 0s
receivers:
  - name: hook
    webhook_configs:
      - url: ${HOOK}/hook
        signing_secrets: ['${SECRET_NEW}', '${SECRET_OLD:-}']
"""


def test_webhooks_are_signed_as_standard_webhooks_and_verify_independently(
    kafka_settings, prefix, tmp_path
) -> None:
    new = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    old = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    wrong = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    old_file = tmp_path / "old-secret"
    old_file.write_text(old + "\n")  # rotation: the previous secret comes from a file
    hook = RawReceiver([500])  # the first attempt fails: the retry is signed again
    env = {"HOOK": hook.url, "SECRET_NEW": new, "SECRET_OLD_FILE": str(old_file)}
    rp = InProcess(kafka_settings, prefix, SIGNED, env, time.time)

    async def scenario() -> None:
        async with rp as r:
            Alerts(kafka_settings, prefix).fire("fp-1")
            await until(lambda: len(hook.requests) == 2, router=r)

    try:
        asyncio.run(scenario())
    finally:
        hook.stop()
    (first_headers, first_body), (headers, body) = hook.requests
    assert headers["webhook-id"] == first_headers["webhook-id"]  # one message, two tries
    assert headers["webhook-id"] == "msg_" + headers["idempotency-key"]
    assert len(headers["webhook-signature"].split(" ")) == 2  # both secrets, for rotation
    for secret in (new, old):
        assert verify_standard_webhook(secret, headers, body)
        assert verify_standard_webhook(secret, first_headers, first_body)
    assert not verify_standard_webhook(wrong, headers, body)
    assert not verify_standard_webhook(new, headers, body + b" ")
    assert json.loads(body)["alerts"][0]["fingerprint"] == "fp-1"


DOWN = """
route:
  receiver: steady
  group_by: [alertname, model]
  group_wait: 0s
  group_interval: 1m
  routes:
    - matchers: ['alertname="RouterDeliveryFailed"']
      receiver: ops
    - matchers: ['team="risk"']
      receiver: flaky
      continue: true
    - matchers: ['team="risk"']
      receiver: steady
receivers:
  - name: steady
    webhook_configs: [{url: "${RX}/steady"}]
  - name: flaky
    fallback: backup
    webhook_configs: [{url: "${RX}/flaky"}]
  - name: backup
    email_configs:
      - to: backup@example.com
        from: router@example.com
        smarthost: 127.0.0.1:${SMTP_PORT}
        require_tls: false
  - name: ops
    webhook_configs: [{url: "${RX}/ops"}]
"""


def test_a_receiver_down_for_a_while_gets_it_once_when_back_and_nobody_else_twice(
    kafka_settings, prefix, receiver
) -> None:
    from aiosmtpd.controller import Controller

    class Mailbox:
        def __init__(self) -> None:
            self.messages: list[tuple[str, list[str], bytes]] = []

        async def handle_DATA(self, server, session, envelope) -> str:
            self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
            return "250 OK"

    mailbox = Mailbox()
    smtp_port = free_port()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    # Down for the first flush's whole retry budget (3 attempts) and the next one's first.
    receiver.script("/flaky", [Response(503)] * 4)
    clock = Clock(time.time())
    env = {"RX": receiver.url, "SMTP_PORT": str(smtp_port)}
    rp = InProcess(kafka_settings, prefix, DOWN, env, clock)

    async def scenario() -> None:
        async with rp as r:
            Alerts(kafka_settings, prefix, clock).fire("fp-1", team="risk")
            await until(lambda: len(receiver.requests("/flaky")) == 3, router=r)
            await until(lambda: len(mailbox.messages) == 1, router=r)
            await until(lambda: len(receiver.delivered("/ops")) == 1, router=r)
            assert len(receiver.delivered("/steady")) == 1  # never waited for flaky

            clock.now += 60  # the group's next flush: flaky is back after one more 503
            await until(lambda: len(receiver.delivered("/flaky")) == 1, router=r)
            # Delivering again resolves the meta-alert; its group tells ops at its next flush.
            await until(lambda: not r.engine.alerts.keys() - {"fp-1"}, router=r)
            clock.now += 60
            await until(lambda: len(receiver.delivered("/ops")) == 2, router=r)
            await settle(r)

    try:
        asyncio.run(scenario())
    finally:
        smtp.stop()
    assert [q.status for q in receiver.requests("/flaky")] == [503, 503, 503, 503, 200]
    assert len(receiver.delivered("/steady")) == 1  # others unaffected, nothing repeated
    keys = {q.headers["idempotency-key"] for q in receiver.requests("/flaky")}
    assert len(keys) == 1  # the same notification throughout
    # The fallback heard once (not at every failed flush), by email.
    ((sender, recipients, content),) = mailbox.messages
    assert (sender, recipients) == ("router@example.com", ["backup@example.com"])
    assert b"Subject: [FIRING] HighLatencyP99 model=fraud" in content
    # And the router said so itself, then said it was over.
    meta = [(q.body["status"], q.body["commonLabels"]) for q in receiver.delivered("/ops")]
    assert [status for status, _ in meta] == ["firing", "resolved"]
    assert meta[0][1]["alertname"] == "RouterDeliveryFailed"
    assert (meta[0][1]["receiver"], meta[0][1]["integration"]) == ("flaky", "webhook/0")
