"""Token scopes and the sign-in lock schedule."""
from __future__ import annotations

from datetime import timedelta

import pytest

from survey.accounts.models import TokenScope
from survey.accounts.services import AccountError, authenticate_token, create_token
from survey.accounts.throttle import FREE_ATTEMPTS, LONGEST_LOCK, locked_until


def test_a_token_does_only_what_its_scopes_allow(db, clock):
    ingest = create_token(db, "crm", now=clock.now())
    reader = create_token(db, "bi", now=clock.now(), scopes=(TokenScope.READ,))
    both = create_token(db, "ops", now=clock.now(), scopes=(TokenScope.READ, TokenScope.INGEST))
    allowed = {(name, scope): authenticate_token(db, token, now=clock.now(), scope=scope) is not None
               for name, token in (("ingest", ingest), ("read", reader), ("both", both)) for scope in TokenScope}
    assert allowed == {("ingest", TokenScope.INGEST): True, ("ingest", TokenScope.READ): False,
                       ("read", TokenScope.INGEST): False, ("read", TokenScope.READ): True,
                       ("both", TokenScope.INGEST): True, ("both", TokenScope.READ): True}
    with pytest.raises(AccountError, match="scopes"):
        create_token(db, "none", now=clock.now(), scopes=())


def test_the_lock_starts_after_the_free_attempts_doubles_and_is_capped(clock):
    now = clock.now()
    assert [locked_until(n, now) for n in range(FREE_ATTEMPTS)] == [None] * FREE_ATTEMPTS
    waits = [locked_until(n, now) - now for n in range(FREE_ATTEMPTS, FREE_ATTEMPTS + 10)]
    assert waits[:3] == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    assert waits == sorted(waits) and waits[-1] == LONGEST_LOCK
