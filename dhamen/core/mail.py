"""Outgoing e-mail through a pluggable sender (like the SMS sender).

``smtp`` (staging/production, configured by ``SMTP_*`` / ``MAIL_FROM``) sends
with the standard library's ``smtplib`` (STARTTLS or implicit TLS with
certificate checks); ``log`` (development only: ``load_config`` refuses it
elsewhere) writes the message to the ``dhamen.mail`` log so a developer can
follow a reset link.  ``outbox`` is filled by both, for tests.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

from dhamen.config import MailSettings

log = logging.getLogger("dhamen.mail")

#: The last messages built (the test suite reads them; bounded).
outbox: list[EmailMessage] = []
_OUTBOX_MAX = 50


def build(settings: MailSettings, to: str, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    outbox.append(msg)
    del outbox[:-_OUTBOX_MAX]
    return msg


class LogMailSender:
    name = "log"

    def __init__(self, settings: MailSettings):
        self.settings = settings

    def send(self, to: str, subject: str, body: str) -> None:
        build(self.settings, to, subject, body)
        log.warning("E-MAIL (développement, non envoyé) à %s : %s\n%s", to, subject, body)


class SmtpMailSender:
    name = "smtp"

    def __init__(self, settings: MailSettings):
        self.settings = settings

    def send(self, to: str, subject: str, body: str) -> None:
        s = self.settings
        msg = build(s, to, subject, body)
        context = ssl.create_default_context()
        if s.security == "ssl":
            server = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            server = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        with server:
            if s.security == "starttls":
                server.starttls(context=context)
            if s.username:
                server.login(s.username, s.password or "")
            server.send_message(msg)


def sender(settings: MailSettings):
    return SmtpMailSender(settings) if settings.kind == "smtp" else LogMailSender(settings)
