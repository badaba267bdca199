"""Channels: the channel taxonomy, outlets and their hierarchy, and interaction ingest."""
