"""Ronin's one error tree.

Every error Ronin raises on purpose derives from :class:`RoninError`. Adapters translate
driver errors (redis, psycopg, duckdb, subprocess) into these at the boundary with
``raise X from e``, so callers never catch a driver's exception type.

    RoninError
    ├── ConfigurationError        settings that cannot work (default secret in production, ...)
    ├── CodecError                a stream message that is not a valid event
    │   ├── UnknownEventType
    │   ├── UnsupportedSchemaVersion
    │   └── MalformedEvent
    ├── StoreUnavailable          Redis or PostgreSQL cannot be reached (retry later)
    ├── SchemaTooNew              the database was migrated by a newer Ronin (a downgrade)
    ├── ProjectionError           a handler failed on one event (retried, then dead-lettered)
    ├── LeaseLost                 another worker holds the lease this worker needed
    ├── EmbeddedServiceError      an embedded server (redis-server, postgres) failed to start
    ├── DetectorError             a model that cannot be loaded or run
    └── MediaError                a recording or frame that cannot be decoded
"""


class RoninError(Exception):
    """Base of every error Ronin raises on purpose."""


class ConfigurationError(RoninError):
    """Settings that cannot work."""


class CodecError(RoninError):
    """A stream message could not be decoded into an event."""


class UnknownEventType(CodecError):
    """The message names an event type this version of Ronin does not know."""


class UnsupportedSchemaVersion(CodecError):
    """The message's schema version is not one this version of Ronin can read."""


class MalformedEvent(CodecError):
    """The message is not valid JSON, lacks envelope fields, or fails validation."""


class StoreUnavailable(RoninError):
    """Redis or PostgreSQL cannot be reached; the operation may succeed later."""


class SchemaTooNew(RoninError):
    """The database holds migrations this version does not know: it was upgraded by a
    newer Ronin, which this one must not write under."""


class ProjectionError(RoninError):
    """A projection handler failed on one event."""


class LeaseLost(RoninError):
    """Another worker holds the lease this worker needed."""


class EmbeddedServiceError(RoninError):
    """An embedded server could not be started or stopped."""


class DetectorError(RoninError):
    """A detection model could not be loaded or run."""


class MediaError(RoninError):
    """A recording or frame could not be read or decoded."""
