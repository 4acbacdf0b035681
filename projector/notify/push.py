"""Web push, the pure part: quiet hours, what a notification says, where a push may go.

The message is encrypted for the browser (RFC 8291, ``aes128gcm``) and signed with the
installation's VAPID key (RFC 8292) by pywebpush; the browser's service worker shows it
and, when clicked, opens the review item (``url``).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from events.catalogue import PushRule
from projector.notify.reviews import LiveItem


def quiet(rule: PushRule, now: datetime) -> bool:
    """Whether ``now`` falls in the rule's quiet hours (``from`` included, ``until`` not;
    ``22:00``-``07:00`` spans midnight)."""
    if rule.quiet_from is None or rule.quiet_until is None or rule.quiet_from == rule.quiet_until:
        return False
    try:
        local = now.astimezone(ZoneInfo(rule.timezone)).strftime("%H:%M")
    except (ZoneInfoNotFoundError, ValueError):
        local = now.strftime("%H:%M")
    if rule.quiet_from < rule.quiet_until:
        return rule.quiet_from <= local < rule.quiet_until
    return local >= rule.quiet_from or local < rule.quiet_until


def notification(item: LiveItem, camera: str, image: str | None = None) -> bytes:
    """What the service worker shows: "Person at Door", "porch · alert", the snapshot
    (``image``, a URL with a media token for it) and where a click goes."""
    what = ", ".join(item.labels).capitalize() or "Something"
    where = " · ".join([*item.zones, item.severity])
    return orjson.dumps({
        "title": f"{what} at {camera}", "body": where, "item_id": str(item.item_id),
        "camera_id": str(item.camera_id), "labels": list(item.labels),
        "zones": list(item.zones), "url": f"/#/review?item={item.item_id}",
        "tag": str(item.item_id), "at": item.start.timestamp(), "image": image,
    })  # fmt: skip


def snapshot_url(alert_id: UUID, token: str) -> str:
    """The snapshot of the alert that made an item an alert (the alerts worker draws it
    as that track starts or enters a required zone), opened by a media token for that
    snapshot only."""
    return f"/api/alerts/{alert_id}/snapshot?token={token}"


def test_notification(now: int) -> bytes:
    return orjson.dumps(
        {"title": "Ronin", "body": "Notifications work on this device", "test": True, "at": now}
    )


def endpoint_refusal(endpoint: str, allow_http: bool = False) -> str | None:
    """Why a push endpoint is not one to send to (push services are HTTPS), or None."""
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname
    except ValueError:  # a malformed IPv6 host
        return "a push endpoint must be a valid URL"
    if parts.scheme == "https" or (allow_http and parts.scheme == "http"):
        return None if host else "a push endpoint needs a host"
    return "a push endpoint must be an https:// URL (a browser's push service)"
