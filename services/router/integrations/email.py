"""Email over SMTP (stdlib ``smtplib``, on a worker thread so the loop never blocks).

SMTP's own reply codes decide: 2xx delivered, 4xx (mailbox busy, greylisted ...) retried,
5xx rejected. A connection that fails or drops is retried. ``require_tls`` (the default,
as in Alertmanager) refuses to send over a connection that did not upgrade with STARTTLS.
The ``Message-ID`` comes from the notification's idempotency key: a re-send after a crash
is recognisably the same message.

>>> from services.router.alert import Alert
>>> from services.router.integrations.base import Context
>>> a = Alert("fp1", True, {"alertname": "Drift"}, {}, 0, None, 0, "s")
>>> mail = EmailIntegration(EmailConfig("oncall", 0, to=("a@example.com",),
...                         sender="router@example.com", smarthost=("127.0.0.1", 25)))
>>> request = mail.render(Notice("oncall", "{}:{}", {}, (a,), Context(), "", "k1", 0))
>>> request.envelope
('router@example.com', ('a@example.com',))
>>> b"Subject: [FIRING] Drift" in request.body, b"Message-ID: <k1@watchkeeper>" in request.body
(True, True)
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from typing import ClassVar

import httpx

from ..answers import Answer
from ..templates import Template
from .base import Integration, IntegrationConfig, Notice, Request

DEFAULT_SUBJECT = Template.parse("[{{ status | upper }}] {{ summary }}")
DEFAULT_TEXT = Template.parse(
    "{{ alerts }}\n\nreceiver: {{ receiver }}\nacknowledge: {{ ack_url }}\n"
)


@dataclass(frozen=True)
class EmailConfig(IntegrationConfig):
    kind: ClassVar[str] = "email"

    to: tuple[str, ...] = ()
    sender: str = ""
    smarthost: tuple[str, int] = ("localhost", 25)
    hello: str = "localhost"
    auth_username: str = ""
    auth_password: str = field(default="", repr=False)
    require_tls: bool = True
    subject: Template = DEFAULT_SUBJECT
    text: Template = DEFAULT_TEXT


class EmailIntegration(Integration):
    kind = "email"
    config: EmailConfig

    def secrets(self) -> Sequence[str]:
        return (self.config.auth_password,)

    def render(self, notice: Notice) -> Request | None:
        context = notice.template_context()
        message = EmailMessage()
        message["Subject"] = self.config.subject.render(context).replace("\n", " ")[:200]
        message["From"] = self.config.sender
        message["To"] = ", ".join(self.config.to)
        message["Date"] = formatdate(notice.now_ms / 1000, usegmt=True)
        message["Message-ID"] = f"<{notice.key}@watchkeeper>"
        message.set_content(self.config.text.render(context))
        return Request(
            f"smtp://{self.config.smarthost[0]}:{self.config.smarthost[1]}",
            message.as_bytes(),
            envelope=(self.config.sender, self.config.to),
        )

    async def send(self, client: httpx.AsyncClient, request: Request, now_s: float) -> Answer:
        return await asyncio.to_thread(self._send, request)

    def _send(self, request: Request) -> Answer:
        host, port = self.config.smarthost
        assert request.envelope is not None
        sender, recipients = request.envelope
        try:
            with smtplib.SMTP(
                host, port, local_hostname=self.config.hello, timeout=self.config.timeout_s
            ) as smtp:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                elif self.config.require_tls:
                    return Answer("reject", None, "the server does not offer STARTTLS")
                if self.config.auth_username:
                    smtp.login(self.config.auth_username, self.config.auth_password)
                refused = smtp.sendmail(sender, list(recipients), request.body)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            return _by_code(min(codes), "every recipient refused")
        except smtplib.SMTPResponseException as exc:
            return _by_code(exc.smtp_code, _text(exc.smtp_error))
        except (smtplib.SMTPException, OSError) as exc:
            return Answer("retry", None, f"{type(exc).__name__}: {exc}")
        if refused:
            # Some recipients took it: it is delivered; the refused ones are logged.
            return Answer("ok", 250, f"refused: {sorted(refused)}")
        return Answer("ok", 250)


def _by_code(code: int, error: str) -> Answer:
    verdict = "retry" if 400 <= code < 500 else "reject"
    return Answer(verdict, code, f"SMTP {code}: {error}")


def _text(raw: bytes | str) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
