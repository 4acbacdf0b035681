"""The notification workers: ``notifier`` (webhooks and web push) and ``mqtt`` (the Home
Assistant bridge)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from py_vapid import Vapid

from api.auth import Tokens, User
from events.errors import ConfigurationError, StoreUnavailable
from events.heartbeat import WorkerHeartbeat
from events.store import RedisEventStore
from infra.settings import Settings
from infra.workers.running import consumer_name, stop_on_signals
from ingest.camera_config.credentials import SecretCipher
from projector.mqtt.bridge import BridgeConfig, MqttBridge, PostgresCameraRows, broker_address
from projector.mqtt.discovery import Discovery, labels_of
from projector.mqtt.topics import Topics
from projector.notify.outbound import OutboundPolicy
from projector.notify.push_delivery import PushConfig
from projector.notify.push_sender import PostgresPushBook, PushSender
from projector.notify.sender import PendingDeliveries, PostgresWebhooks, SenderConfig, WebhookSender
from projector.postgres import reconnecting_connection

log = logging.getLogger(__name__)


def run_mqtt(settings: Settings) -> None:
    redis_url, database_url = settings.require_urls()
    if not settings.mqtt_url:
        raise ConfigurationError("MQTT_URL must be set (`ronin up` sets it with MQTT_ENABLED)")
    store = RedisEventStore.from_url(redis_url)
    consumer = consumer_name("mqtt")
    discovery = Discovery(
        Topics(settings.mqtt_topic_prefix), labels_of(settings.mqtt_labels),
        settings.mqtt_discovery_prefix,
    )  # fmt: skip
    bridge = MqttBridge(
        broker_address(settings.mqtt_url),
        store,
        PostgresCameraRows(reconnecting_connection(database_url)),
        settings.recordings_root,
        consumer,
        BridgeConfig(
            discovery,
            settings.alert_labels,
            client_id=f"ronin-{consumer}",
            commands=settings.mqtt_commands,
        ),
    )
    heartbeat = WorkerHeartbeat(store.client, "mqtt", beat_file=settings.heartbeat_file)
    try:
        bridge.run(stop_on_signals(), lambda: heartbeat.beat(
            broker="connected" if bridge.connected else "unreachable",
            published=bridge.published))  # fmt: skip
    finally:
        heartbeat.stop()


def snapshot_tokens(settings: Settings) -> Callable[[User, str], str]:
    """Media tokens for push notifications' pictures: a day, one snapshot each."""
    tokens = Tokens(settings.jwt_secret_value(), settings.jwt_expiry_minutes * 60)
    return lambda user, resource: tokens.issue(user, "media", 86_400, resource=resource)


def run_notifier(settings: Settings) -> None:
    redis_url, database_url = settings.require_urls()
    store = RedisEventStore.from_url(redis_url)
    book = PostgresWebhooks(
        reconnecting_connection(database_url), SecretCipher(settings.encryption_key_value())
    )
    consumer = consumer_name("notifier")
    deny = settings.camera_deny_network_list
    hooks = WebhookSender(store, book, PendingDeliveries(store.client), consumer,
                          SenderConfig(alert_labels=settings.alert_labels,
                                       policy=OutboundPolicy(deny=deny)))  # fmt: skip
    pushes = PushSender(
        store, PostgresPushBook(reconnecting_connection(database_url)),
        Vapid.from_pem(settings.vapid_private_pem().encode()), consumer,
        PushConfig(contact=settings.push_contact, alert_labels=settings.alert_labels,
                   media_tokens=snapshot_tokens(settings),
                   policy=OutboundPolicy(deny=deny, public_only=True,
                                         allow=settings.push_allow_network_list)),
    )  # fmt: skip
    heartbeat, stop = (
        WorkerHeartbeat(store.client, "notifier", beat_file=settings.heartbeat_file),
        stop_on_signals(),
    )
    try:
        while not stop.is_set():
            for sender in (hooks, pushes):
                try:
                    sender.step(block_ms=100)
                except StoreUnavailable as e:
                    log.warning("store unavailable, retrying: %s", e)
                    stop.wait(1.0)
            heartbeat.beat(delivered=hooks.delivered, failed=hooks.failed,
                           pushed=pushes.pushed, push_failed=pushes.failed)  # fmt: skip
    finally:
        hooks.close()
        pushes.close()
        heartbeat.stop()
