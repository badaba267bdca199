"""Rules that open a case, as data: each rule of the shipped file on answers worked by hand."""
from __future__ import annotations

import pytest

from survey.cases.rules import AnswerFacts, RulesError, first_match, load_rules, optout_match, rules_from_data

RULES = load_rules()


def answer(question="satisfaction", value=None, reasons=(), text="", segment="standard", survey="csat-default",
           **attributes):
    return AnswerFacts(survey, question, value, tuple(reasons), text, attributes, segment)


@pytest.mark.parametrize("facts, expected", [
    (answer(value=1, text="1"), None),
    (answer(value=2, text="满意"), None),
    (answer(value=3, text="一般"), None),
    (answer(value=4, text="4"), "dissatisfied"),
    (answer(value=5, text="非常不满意"), "dissatisfied"),
    (answer(value=3, text="3", segment="vip"), "vip_not_satisfied"),
    (answer(value=5, text="5", segment="vip"), "vip_not_satisfied"),
    (answer(value=2, text="2", segment="vip"), None),
    (answer("recommend", 6, survey="nps-default"), "nps_detractor"),
    (answer("recommend", 0, survey="nps-default"), "nps_detractor"),
    (answer("recommend", 7, survey="nps-default"), None),
    (answer("reason", None, ("wait_time",), "排队太久"), None),
    (answer("reason", None, ("wait_time", "unresolved"), "排队太久，问题也没解决"), "unresolved_or_billing"),
    (answer("reason", None, ("billing",), "乱收费"), "unresolved_or_billing"),
    (answer(value=3, text="3 我要投诉你们"), "complaint_words"),
    (answer(value=1, text="１ 但是上次打１２３１５都没用"), "complaint_words"),  # full-width digits fold
    (answer(value=2, text="还行"), None),
])
def test_the_shipped_rules_on_answers(facts, expected):
    rule = first_match(RULES, facts)
    assert (rule.key if rule else None) == expected


def test_an_opt_out_after_a_bad_score_matches_the_score_not_a_good_one():
    bad = [answer(value=3, text="一般")]
    rule, facts = optout_match(RULES, bad)
    assert rule.key == "optout_after_bad_score" and facts.value == 3
    assert optout_match(RULES, [answer(value=1, text="1")]) is None
    assert optout_match(RULES, []) is None
    # Opt-out rules never open a case from an answer alone.
    assert first_match([r for r in RULES if r.key.startswith("optout")], answer(value=3)) is None


def test_attributes_and_segments_are_conditions_too():
    rules = rules_from_data({"rules": [
        {"key": "gold_any", "attributes": {"tier": ["金卡"], "vip": [True]}, "questions": ["satisfaction"]}]})
    assert first_match(rules, answer(value=1, tier="金卡", vip=True)).key == "gold_any"
    assert first_match(rules, answer(value=1, tier="金卡", vip="false")) is None
    assert first_match(rules, answer(value=1, tier="银卡", vip=True)) is None


@pytest.mark.parametrize("data, message", [
    ({"rules": [{"key": "all"}]}, "rules[0]: a rule without a condition"),
    ({"rules": [{"key": "x", "values": ["4"]}]}, "rules[0].values: expected a list of integers"),
    ({"rules": [{"key": "x", "on": "answer", "values": [4]}]}, "rules[0]: unknown fields ['on']"),
    ({"rules": [{"key": "x", "trigger": "later", "values": [4]}]}, "rules[0].trigger: expected one of"),
    ({"rules": [{"key": "x", "values": [4]}, {"key": "x", "values": [5]}]}, "rules[1].key: duplicate rule key"),
    ({"rule": []}, "rules: expected a mapping with a list named rules"),
    ({"rules": [{"key": "x", "words": "投诉"}]}, "rules[0].words: expected a list"),
])
def test_a_bad_rule_file_names_the_field(data, message):
    with pytest.raises(RulesError, match=None) as caught:
        rules_from_data(data, source="rules.yaml")
    assert f"rules.yaml: {message}" in str(caught.value)
