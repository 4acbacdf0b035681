"""Footage after it is recorded: retention (by age, size and free space), transcoding to
H.265, the integrity check between disk, read models and events, and export of a span."""
