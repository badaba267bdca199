"""Fixtures the web tests share."""
from __future__ import annotations

import pytest


@pytest.fixture
def admin_client(client, users, sign_in):
    sign_in(users["admin"])
    return client
