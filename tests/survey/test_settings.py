from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from survey.clock import FrozenClock
from survey.settings import Settings, SettingsError, load_settings


def test_defaults_run_on_sqlite_in_the_instance_folder():
    settings = load_settings({})
    assert settings.sqlalchemy_url == f"sqlite:///{Path('instance').resolve() / 'touchpoint.db'}"
    assert settings.tz.key == "Asia/Shanghai"
    assert (settings.smpp_window, settings.smpp_tps) == (10, 100.0)


def test_environment_overrides_file_which_overrides_defaults(tmp_path):
    config = tmp_path / "touchpoint.toml"
    config.write_text('smpp_window = 50\ntimezone = "Asia/Urumqi"\nquiet_start = "22:00"\n', encoding="utf-8")
    settings = load_settings({"TOUCHPOINT_CONFIG": str(config), "TOUCHPOINT_SMPP_WINDOW": "20",
                              "TOUCHPOINT_SMPP_USE_SAR": "yes", "TOUCHPOINT_SMPP_TPS": "200.5"})
    assert settings.smpp_window == 20
    assert settings.timezone == "Asia/Urumqi"
    assert settings.quiet_start == time(22, 0)
    assert settings.smpp_use_sar is True
    assert settings.smpp_tps == 200.5


@pytest.mark.parametrize("env, message", [
    ({"TOUCHPOINT_SMPP_WINDOW": "ten"}, "TOUCHPOINT_SMPP_WINDOW: 'ten' is not a valid int"),
    ({"TOUCHPOINT_TIMEZONE": "Mars/Base"}, "TOUCHPOINT_TIMEZONE: unknown time zone 'Mars/Base'"),
    ({"TOUCHPOINT_SMPP_USE_SAR": "maybe"}, "TOUCHPOINT_SMPP_USE_SAR: 'maybe' is not a valid bool"),
    ({"TOUCHPOINT_CONFIG": "/nonexistent.toml"}, "TOUCHPOINT_CONFIG: cannot read /nonexistent.toml"),
])
def test_bad_values_name_the_variable(env, message):
    with pytest.raises(SettingsError, match="^" + message.replace("(", r"\(").replace(".", r"\.")):
        load_settings(env)


def test_unknown_variables_are_kept_aside_not_lost():
    assert load_settings({"TOUCHPOINT_FUTURE_FLAG": "1"}).extra == {"future_flag": "1"}


def test_frozen_clock_moves_only_when_told(clock):
    start = clock.now()
    assert clock.now() == start
    assert clock.advance(minutes=5) - start == timedelta(minutes=5)
    with pytest.raises(ValueError):
        FrozenClock(start.replace(tzinfo=None))


def test_settings_are_immutable():
    with pytest.raises(Exception):
        Settings().smpp_window = 3  # type: ignore[misc]
