"""Ronin over MQTT: state, events and Home Assistant discovery out, switches in.

MQTT's retained topics are one more read model, kept in the broker for Home Assistant
and anything else that speaks MQTT; the bridge (:mod:`.bridge`) builds it from the
events as a projector does. Everything but the bridge is pure:

- :mod:`.topics`: the topic names (close to Frigate's) and the ON/OFF payloads;
- :mod:`.occupancy`: how many tracked objects of each class are in view, per camera and
  per zone, from the live tracks;
- ``projector.notify.reviews``: live review items (a camera's overlapping tracks) as
  new / update / end (shared with webhooks);
- :mod:`.messages`: the JSON of tracked-object and review-item messages;
- :mod:`.discovery`: Home Assistant's MQTT discovery configs, a device per camera;
- :mod:`.commands`: a switch command as the camera event it stands for.
"""
