"""Builds the worker from a runtime: the surveys, the contact policy and the SMPP client."""
from __future__ import annotations

import logging
from datetime import timedelta

from smpp.ack_journal import AckJournal
from survey.cases.config import CaseLoop, load_case_policy
from survey.definitions import load_surveys
from survey.replies.parser import parse_reply
from survey.policy import PolicyConfig
from survey.runtime import Runtime
from survey.texts import oversized_texts
from survey.jobs.worker import Worker

log = logging.getLogger(__name__)
# A long outlet name, so the warning errs on the side of cost.
SAMPLE_VALUES = {"outlet": "某某市某某区某某路营业厅", "business": "套餐变更"}


def load_checked_surveys() -> dict:
    """All survey definitions, their parsers compiled; warns about texts that cost more than one segment."""
    surveys = load_surveys()
    for survey in surveys.values():
        for question in survey.questions:
            parse_reply(question, "")  # compiles the question's parser now, not on the first reply
        for name, segments in oversized_texts(survey, SAMPLE_VALUES):
            log.warning("survey %s: %s needs %d SMS segments with a long outlet name", survey.key, name, segments)
    return surveys


def build_worker(runtime: Runtime, **client_overrides) -> Worker:
    surveys = load_checked_surveys()
    policy = PolicyConfig.from_settings(runtime.settings)
    if policy.default_survey not in surveys:
        raise ValueError(f"TOUCHPOINT_DEFAULT_SURVEY: no survey {policy.default_survey!r} "
                         f"(defined: {', '.join(sorted(surveys))})")
    settings = runtime.settings
    journals = settings.instance_path / "journal"  # a folder per worker id: see Worker.reclaim
    return Worker(runtime, client_config=runtime.client_config(**client_overrides), surveys=surveys,
                  policy=policy, journal=AckJournal(journals / settings.worker_name), journal_root=journals,
                  cases=CaseLoop.from_config(load_case_policy(), policy), worker_id=settings.worker_name,
                  lease=timedelta(seconds=settings.lease_seconds))
