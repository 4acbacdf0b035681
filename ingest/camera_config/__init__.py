"""Configuring a camera: its credentials encrypted for events, the connection test that
says whether a URL works before it is saved, and its directory name on disk."""
