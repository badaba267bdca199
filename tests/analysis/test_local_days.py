"""Local days in zones with and without daylight saving (analysis.local_days)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np

from analysis.local_days import midnight_utc, offset_spans

UTC = timezone.utc


def test_a_zone_without_daylight_saving_is_one_span():
    since, until = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    assert offset_spans(ZoneInfo("Asia/Shanghai"), since, until) == [(since, 8 * 3600)]


def test_daylight_saving_transitions_are_found_to_the_minute():
    berlin = ZoneInfo("Europe/Berlin")
    spans = offset_spans(berlin, datetime(2026, 1, 15, tzinfo=UTC), datetime(2026, 12, 15, tzinfo=UTC))
    # Summer time 2026: from 01:00 UTC on 29 March to 01:00 UTC on 25 October.
    assert spans == [(datetime(2026, 1, 15, tzinfo=UTC), 3600), (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), 7200),
                     (datetime(2026, 10, 25, 1, 0, tzinfo=UTC), 3600)]
    # Every instant in each span has that span's offset, checked hour by hour.
    for (start, offset), (end, _) in zip(spans, spans[1:] + [(datetime(2026, 12, 15, tzinfo=UTC), 0)]):
        t = start
        while t < end:
            assert t.astimezone(berlin).utcoffset() == timedelta(seconds=offset)
            t += timedelta(hours=1)


def test_a_half_hour_transition_and_a_negative_offset():
    lord_howe = offset_spans(ZoneInfo("Australia/Lord_Howe"), datetime(2026, 3, 1, tzinfo=UTC),
                             datetime(2026, 5, 1, tzinfo=UTC))
    assert [offset for _, offset in lord_howe] == [11 * 3600, 10 * 3600 + 1800]
    assert offset_spans(ZoneInfo("America/Sao_Paulo"), datetime(2026, 1, 1, tzinfo=UTC),
                        datetime(2026, 2, 1, tzinfo=UTC))[0][1] == -3 * 3600


def test_a_local_day_starts_at_its_local_midnight():
    assert midnight_utc("2026-11-20", ZoneInfo("Asia/Shanghai")) == np.datetime64("2026-11-19T16:00:00")
    assert midnight_utc(date(2026, 7, 1), ZoneInfo("Europe/Berlin")) == np.datetime64("2026-06-30T22:00:00")
    assert midnight_utc(date(2026, 1, 1), ZoneInfo("Europe/Berlin")) == np.datetime64("2025-12-31T23:00:00")
