"""Surveys: definitions, the reply parser, contact policy, the session engine, the app and CLI."""
