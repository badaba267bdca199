"""scope_for: the one answer to "which outlets may this user see" that every query uses."""
from __future__ import annotations

from survey.accounts.models import Role
from survey.accounts.services import create_user
from survey.accounts.scope import scope_for


def test_managers_and_admins_see_every_outlet_and_a_lead_only_their_own(db, clock, outlets):
    manager = create_user(db, "wang", "password1", Role.MANAGER, now=clock.now())
    admin = create_user(db, "root", "password1", Role.ADMIN, now=clock.now())
    lead = create_user(db, "li", "password1", Role.CHANNEL_LEAD, now=clock.now(), outlet_codes=("S101", "S001"))
    assert scope_for(manager) is None and scope_for(admin) is None
    assert scope_for(lead) == ("S001", "S101")


def test_a_lead_whose_outlets_were_all_taken_away_sees_nothing(db, clock, outlets):
    lead = create_user(db, "zhao", "password1", Role.CHANNEL_LEAD, now=clock.now(), outlet_codes=("S002",))
    lead.outlets.clear()
    db.flush()
    assert scope_for(lead) == ()
