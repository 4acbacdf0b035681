"""Web push subscriptions: each user's own browsers, their rules, a test push.

``GET /api/push/key`` gives the installation's VAPID public key, which the browser's
``PushManager.subscribe`` needs; the browser's subscription (its push service endpoint
and keys) is then saved with a rule (``PushSubscribed``). A user sees and changes only
their own subscriptions, and is pushed only about cameras they may see (the notifier
checks at each push, so a narrowed access applies at once).
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlsplit
from uuid import UUID, uuid4

import redis
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from py_vapid import Vapid, Vapid01
from pydantic import BaseModel, Field

from api.deps import SIGNED_IN, Connection, CurrentUser, EventStoreDep, ensure_visible
from api.inputs import CONTROL_FREE, HttpUrl
from events.catalogue import PushRule, PushSubscribed, PushUnsubscribed
from projector.notify.outbound import OutboundPolicy, Refused, pinned_address
from projector.notify.push import endpoint_refusal, test_notification
from projector.notify.push_delivery import PushConfig, send_push, subscription_of
from projector.readmodels import push

router = APIRouter(prefix="/api/push", tags=["notifications"])


class PushKey(BaseModel):
    public_key: str
    """The VAPID public key, base64url (``applicationServerKey``)."""


class BrowserKeys(BaseModel):
    p256dh: str = Field(min_length=1, max_length=200, pattern=CONTROL_FREE)
    auth: str = Field(min_length=1, max_length=100, pattern=CONTROL_FREE)


class SubscriptionIn(BaseModel):
    endpoint: HttpUrl
    keys: BrowserKeys
    rule: PushRule = PushRule()


class SubscriptionOut(BaseModel):
    subscription_id: UUID
    endpoint: str
    rule: PushRule
    updated_at: datetime


class PushAnswer(BaseModel):
    ok: bool
    reason: str


def _vapid(request: Request) -> Vapid01:
    pem = request.app.state.config.vapid_private_pem
    if pem is None:
        raise HTTPException(404, "web push is not set up on this installation (no VAPID key)")
    return Vapid.from_pem(pem.encode())


def own_subscription(
    subscription_id: UUID, user: CurrentUser, conn: Connection
) -> push.SubscriptionRow:
    """The user's own subscription in the path (anyone else's does not exist for them)."""
    row = push.subscription(conn, subscription_id)
    if row is None or row.username != user.username:
        raise HTTPException(404, "no such subscription")
    return row


Own = Annotated[push.SubscriptionRow, Depends(own_subscription)]


MAX_SUBSCRIPTIONS = 10
"""Browsers per user: enough for every phone and laptop one owns."""


def push_policy(request: Request) -> OutboundPolicy:
    config = request.app.state.config
    return OutboundPolicy(deny=tuple(config.camera_deny_networks), public_only=True,
                          allow=tuple(config.push_allow_networks))  # fmt: skip


def _subscribed(
    request: Request, user: CurrentUser, body: SubscriptionIn, sid: UUID
) -> PushSubscribed:
    refused = endpoint_refusal(body.endpoint, request.app.state.config.push_allow_http)
    if refused is not None:
        raise HTTPException(422, refused)
    try:
        pinned_address(urlsplit(body.endpoint).hostname or "", push_policy(request))
    except Refused as e:
        raise HTTPException(422, f"not a push service: {e}") from e
    for camera_id in body.rule.cameras:
        ensure_visible(user, camera_id)
    return PushSubscribed(subscription_id=sid, username=user.username, endpoint=body.endpoint,
                          p256dh=body.keys.p256dh, auth=body.keys.auth, rule=body.rule)  # fmt: skip


def _within_cap(client: redis.Redis, username: str, conn: Connection, new: UUID) -> None:
    """At most ``MAX_SUBSCRIPTIONS`` per user, counted as the read model has them and
    as this minute's subscriptions add (the projector folds them a moment later, and
    a burst must not slip through meanwhile)."""
    recent, now = f"ronin:push:recent:{username}", time.time()
    pipe = client.pipeline()
    pipe.zremrangebyscore(recent, 0, now - 60)
    pipe.zrange(recent, 0, -1)
    _, pending = pipe.execute()
    known = {str(r.subscription_id) for r in push.of_user(conn, username)}
    if len(known | {p.decode() for p in pending}) >= MAX_SUBSCRIPTIONS:
        raise HTTPException(409, f"at most {MAX_SUBSCRIPTIONS} browsers per user: remove one first")
    client.zadd(recent, {str(new): now})
    client.expire(recent, 120)


@router.get("/key", response_model=PushKey, **SIGNED_IN)
def push_key(request: Request) -> PushKey:
    from cryptography.hazmat.primitives import serialization

    point = _vapid(request).public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return PushKey(public_key=base64.urlsafe_b64encode(point).rstrip(b"=").decode())


@router.get("/subscriptions", response_model=list[SubscriptionOut], **SIGNED_IN)
def my_subscriptions(user: CurrentUser, conn: Connection) -> list[SubscriptionOut]:
    return [SubscriptionOut(subscription_id=r.subscription_id, endpoint=r.endpoint,
                            rule=r.push_rule(), updated_at=r.updated_at)
            for r in push.of_user(conn, user.username)]  # fmt: skip


@router.post("/subscriptions", status_code=status.HTTP_202_ACCEPTED,
             responses={409: {"description": "this user has as many browsers as allowed"}},
             **SIGNED_IN)  # fmt: skip
def subscribe(
    body: SubscriptionIn, request: Request, user: CurrentUser, conn: Connection,
    store: EventStoreDep,
) -> dict[str, UUID]:  # fmt: skip
    """Save this browser's subscription and its rule (PushSubscribed); at most
    ``MAX_SUBSCRIPTIONS`` per user (409 beyond: remove an old browser first)."""
    event = _subscribed(request, user, body, uuid4())
    _within_cap(store.client, user.username, conn, event.subscription_id)
    store.append(event)
    return {"subscription_id": event.subscription_id}


@router.put("/subscriptions/{subscription_id}", status_code=status.HTTP_202_ACCEPTED, **SIGNED_IN)
def change_subscription(
    own: Own, body: SubscriptionIn, request: Request, user: CurrentUser, store: EventStoreDep
) -> dict[str, str]:
    store.append(_subscribed(request, user, body, own.subscription_id))
    return {"status": "updating"}


@router.delete(
    "/subscriptions/{subscription_id}", status_code=status.HTTP_202_ACCEPTED, **SIGNED_IN
)
def unsubscribe(own: Own, store: EventStoreDep) -> dict[str, str]:
    store.append(PushUnsubscribed(subscription_id=own.subscription_id, reason="unsubscribed"))
    return {"status": "removing"}


@router.post("/subscriptions/{subscription_id}/test", response_model=PushAnswer, **SIGNED_IN)
async def test_push(own: Own, request: Request) -> PushAnswer:
    """Push a test notification to this subscription now. The answer says only whether
    it was delivered: how a server refused or failed would map the network for anyone."""
    sub = subscription_of(own)
    config = PushConfig(allow_http=request.app.state.config.push_allow_http,
                        policy=push_policy(request))  # fmt: skip
    payload = test_notification(int(datetime.now(UTC).timestamp()))
    answer = await run_in_threadpool(send_push, sub, payload, _vapid(request), config)
    return PushAnswer(ok=answer.ok, reason="delivered" if answer.ok else "not delivered")
