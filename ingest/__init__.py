"""Ingest: one ffmpeg per camera writing live HLS and recording segments.

- :mod:`ingest.camera_config`: what configuring a camera needs (the credential cipher,
  the connection test, directory names);
- :mod:`ingest.lifecycle`: what happens to footage once it is on disk (retention,
  transcoding, the integrity check, export).
"""
