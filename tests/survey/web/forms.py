"""Posting the app's forms as a browser would: with the CSRF token a page hands out."""
from __future__ import annotations

import re


def csrf_token(client, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def post(client, path, **data):
    return client.post(path, data={**data, "csrf_token": csrf_token(client)})
