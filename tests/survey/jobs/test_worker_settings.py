"""The worker's id and lease come from the settings; the id names its journal folder."""
from __future__ import annotations

import os
from datetime import timedelta

import pytest

from survey.jobs.build import build_worker
from survey.runtime import Runtime
from survey.settings import SettingsError, host_worker_prefix, load_settings


def test_the_worker_id_defaults_to_hostname_pid_and_names_its_journal_folder(tmp_path):
    settings = load_settings({"TOUCHPOINT_INSTANCE_PATH": str(tmp_path)})
    assert settings.worker_name == f"{host_worker_prefix()}{os.getpid()}"
    worker = build_worker(Runtime.build(settings))
    assert (worker.worker_id, worker.lease) == (settings.worker_name, timedelta(seconds=60))
    assert worker.journal.directory == tmp_path / "journal" / settings.worker_name
    assert worker.journal_root == tmp_path / "journal"


def test_a_configured_worker_id_and_lease_are_used(tmp_path):
    settings = load_settings({"TOUCHPOINT_INSTANCE_PATH": str(tmp_path), "TOUCHPOINT_WORKER_ID": "sms-2",
                              "TOUCHPOINT_LEASE_SECONDS": "20"})
    worker = build_worker(Runtime.build(settings))
    assert (worker.worker_id, worker.lease, worker.journal.directory.name) == ("sms-2", timedelta(seconds=20), "sms-2")


@pytest.mark.parametrize("env, message", [
    ({"TOUCHPOINT_WORKER_ID": "../etc"}, "TOUCHPOINT_WORKER_ID: '../etc' must be 1-64 letters"),
    ({"TOUCHPOINT_WORKER_ID": "a" * 65}, "TOUCHPOINT_WORKER_ID: 'aaaa"),
    ({"TOUCHPOINT_LEASE_SECONDS": "2"}, "TOUCHPOINT_LEASE_SECONDS: 2 is too short"),
    ({"TOUCHPOINT_LEASE_SECONDS": "soon"}, "TOUCHPOINT_LEASE_SECONDS: 'soon' is not a valid int"),
])
def test_a_bad_worker_setting_names_the_variable(env, message):
    with pytest.raises(SettingsError, match="^" + message.replace(".", r"\.")):
        load_settings(env)
