"""``ronin backup`` and ``ronin restore``: what a move to a new machine needs.

A backup is one file: a gzipped tar (sealed with a passphrase unless told otherwise)
holding ``manifest.json`` (format, when, the migrations applied), ``secrets.json`` (the
encryption key that reads camera and webhook secrets, and the web-push key),
``users.jsonl`` (accounts are a credential store, not events), ``groups.json`` (where
every consumer group stood) and ``events/{topic}.jsonl`` (the whole event log, archive
and stream, each topic a gap-free prefix). Read models are not in it: they are rebuilt
from the events. Footage is not in it: it stays on its disk, or is copied separately.
"""
