"""Webhooks: commands that become WebhookConfigured/Removed, a test delivery, the log.

Admins only. A webhook's secret (it signs every delivery: ``projector.notify.webhooks``)
is made by Ronin and shown once, in the answer that created the webhook; it travels
and rests only as Fernet ciphertext. A webhook may not point at link-local or
cloud-metadata addresses (``camera_targets``).
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime
from uuid import UUID, uuid4

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.camera_targets import target_refusal
from api.deps import ADMIN_ONLY, Connection, EventStoreDep
from api.inputs import CONTROL_FREE, Flag, HttpUrl
from events.catalogue import (
    NotificationRule,
    WebhookConfigured,
    WebhookDelivered,
    WebhookFailed,
    WebhookRemoved,
)
from ingest.camera_config.credentials import SecretCipher
from projector.notify.outbound import OutboundPolicy
from projector.notify.sender import Delivery, SenderConfig, post, webhook_of
from projector.notify.webhooks import test_body
from projector.readmodels import webhooks

router = APIRouter(prefix="/api/webhooks", tags=["notifications"])


class WebhookIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, pattern=CONTROL_FREE)
    url: HttpUrl
    rule: NotificationRule = NotificationRule()
    enabled: Flag = True


class WebhookOut(BaseModel):
    webhook_id: UUID
    name: str
    url: str
    rule: NotificationRule
    enabled: bool
    updated_at: datetime


class Created(BaseModel):
    webhook_id: UUID
    secret: str
    """Shown once: the receiver checks ``X-Ronin-Signature`` with it."""


class DeliveryOut(BaseModel):
    delivery_id: UUID
    item_id: UUID | None
    delivered: bool
    attempts: int
    status_code: int | None
    reason: str | None
    at: datetime


class TestAnswer(BaseModel):
    ok: bool
    status_code: int | None
    reason: str


def _cipher(request: Request) -> SecretCipher:
    return SecretCipher(request.app.state.config.encryption_key)


def _allowed(request: Request, url: str) -> None:
    refused = target_refusal(url, request.app.state.config.camera_deny_networks)
    if refused is not None:
        raise HTTPException(422, refused.replace("cameras", "webhooks"))


def _found(conn: Connection, webhook_id: UUID) -> webhooks.WebhookRow:
    row = webhooks.webhook(conn, webhook_id)
    if row is None:
        raise HTTPException(404, "no such webhook")
    return row


def _out(row: webhooks.WebhookRow) -> WebhookOut:
    return WebhookOut(webhook_id=row.webhook_id, name=row.name, url=row.url,
                      rule=row.notification_rule(), enabled=row.enabled,
                      updated_at=row.updated_at)  # fmt: skip


@router.get("", response_model=list[WebhookOut], **ADMIN_ONLY)
def list_webhooks(conn: Connection) -> list[WebhookOut]:
    """Every webhook (never its secret)."""
    return [_out(row) for row in webhooks.all_webhooks(conn)] if webhooks.created(conn) else []


@router.post("", response_model=Created, status_code=status.HTTP_202_ACCEPTED, **ADMIN_ONLY)
def add_webhook(body: WebhookIn, request: Request, store: EventStoreDep) -> Created:
    """Add a webhook (WebhookConfigured) with a new secret, returned this once."""
    _allowed(request, body.url)
    secret = secrets.token_urlsafe(32)
    event = WebhookConfigured(webhook_id=uuid4(), name=body.name, url=body.url,
                              secret_ciphertext=_cipher(request).encrypt(secret),
                              rule=body.rule, enabled=body.enabled)  # fmt: skip
    store.append(event)
    return Created(webhook_id=event.webhook_id, secret=secret)


@router.put("/{webhook_id}", status_code=status.HTTP_202_ACCEPTED, **ADMIN_ONLY)
def update_webhook(
    webhook_id: UUID, body: WebhookIn, request: Request, conn: Connection, store: EventStoreDep
) -> dict[str, str]:
    """Change a webhook (its secret is kept)."""
    row = _found(conn, webhook_id)
    _allowed(request, body.url)
    store.append(WebhookConfigured(webhook_id=webhook_id, name=body.name, url=body.url,
                                   secret_ciphertext=row.secret_ciphertext, rule=body.rule,
                                   enabled=body.enabled))  # fmt: skip
    return {"status": "updating"}


@router.delete("/{webhook_id}", status_code=status.HTTP_202_ACCEPTED, **ADMIN_ONLY)
def remove_webhook(webhook_id: UUID, conn: Connection, store: EventStoreDep) -> dict[str, str]:
    _found(conn, webhook_id)
    store.append(WebhookRemoved(webhook_id=webhook_id))
    return {"status": "removing"}


@router.get("/{webhook_id}/deliveries", response_model=list[DeliveryOut], **ADMIN_ONLY)
def list_deliveries(webhook_id: UUID, conn: Connection) -> list[DeliveryOut]:
    """The webhook's latest 50 deliveries, newest first."""
    _found(conn, webhook_id)
    return [DeliveryOut.model_validate(d, from_attributes=True)
            for d in webhooks.deliveries(conn, webhook_id)]  # fmt: skip


@router.post("/{webhook_id}/test", response_model=TestAnswer, **ADMIN_ONLY)
async def test_webhook(
    webhook_id: UUID, request: Request, conn: Connection, store: EventStoreDep
) -> TestAnswer:
    """Send a signed test delivery now (one try) and say how the receiver answered; it
    goes into the delivery log like any other."""
    row = _found(conn, webhook_id)
    hook = webhook_of(row, _cipher(request))
    delivery_id = uuid4()
    test = Delivery(
        delivery_id, webhook_id, None, test_body(delivery_id, row.name, int(time.time()))
    )
    policy = OutboundPolicy(deny=tuple(request.app.state.config.camera_deny_networks))
    answer = await run_in_threadpool(post, hook, test, SenderConfig(policy=policy))
    if answer.ok:
        assert answer.status_code is not None
        store.append(WebhookDelivered(webhook_id=webhook_id, delivery_id=delivery_id,
                                      attempts=1, status_code=answer.status_code))  # fmt: skip
    else:
        store.append(WebhookFailed(webhook_id=webhook_id, delivery_id=delivery_id, attempts=1,
                                   reason=answer.reason))  # fmt: skip
    return TestAnswer(ok=answer.ok, status_code=answer.status_code, reason=answer.reason)
