"""The configured phone region, from ingest to the survey engine's mobile check."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from channels.models import Interaction
from channels.phones import is_mobile_e164
from channels.services import record_interactions
from survey.definitions import load_surveys
from survey.jobs.decide import evaluate_pending
from survey.policy import Decision, PolicyConfig


@pytest.mark.parametrize("region, national, e164", [
    ("GB", "07400 123456", "+447400123456"),
    ("US", "(201) 555-0123", "+12015550123"),
    ("CN", "138 1234 1234", "+8613812341234"),
])
def test_a_mobile_of_the_configured_region_is_surveyed_not_skipped(db, outlets, clock, settings,
                                                                   region, national, e164):
    result = record_interactions(db, [{"source": "crm", "external_id": "r-1", "msisdn": national,
                                       "outlet": "S001", "ended_at": "2026-11-20 09:30"}],
                                 now=clock.now(), tz=settings.tz, region=region)
    assert result.created == 1
    assert db.scalars(select(Interaction.msisdn)).one() == e164

    counts = evaluate_pending(db, now=clock.now(), config=PolicyConfig(tz=settings.tz), surveys=load_surveys())

    assert counts == {Decision.SURVEYED: 1}


@pytest.mark.parametrize("msisdn, mobile", [
    ("+8613812341234", True),
    ("+447400123456", True),
    ("+12015550123", True),  # the US does not tell mobile from fixed numbers: either may get a text
    ("+861012345678", False),  # Beijing fixed line
    ("+442071234567", False),  # London fixed line
    ("+86 138 1234 1234", False),  # not E.164 as stored
    ("13812341234", False),
    ("", False),
])
def test_mobility_is_read_from_the_e164_number_alone(msisdn, mobile):
    assert is_mobile_e164(msisdn) is mobile
