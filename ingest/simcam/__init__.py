"""Simulated cameras: a real RTSP server (GStreamer) run by the system Python."""
