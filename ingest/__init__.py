"""Ingest: one ffmpeg per camera writing live HLS and recording segments."""
