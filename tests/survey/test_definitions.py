"""Survey definitions load from data and reject bad files with the file and field named."""
from __future__ import annotations

import copy

import pytest
import yaml

from survey.definitions import (DEFINITIONS_DIR, OPTOUT_HINT, TEXT_KEYS, Condition, DefinitionError,
                                QuestionKind, load_survey, load_surveys, survey_from_dict)

SMS_SEGMENT = 70  # characters in one UCS2 segment
SAMPLE = {"outlet": "营业厅", "business": "缴费"}


def test_reference_surveys_load():
    surveys = load_surveys()
    assert set(surveys) >= {"csat-default", "nps-default"}
    csat = surveys["csat-default"]
    satisfaction = csat.question("satisfaction")
    assert satisfaction.kind is QuestionKind.SCALE
    assert [o.value for o in satisfaction.options] == [1, 2, 3, 4, 5]
    assert [o.label for o in satisfaction.options] == ["非常满意", "满意", "一般", "不满意", "非常不满意"]
    assert (satisfaction.min_value, satisfaction.max_value) == (1, 5)
    reason = csat.question("reason")
    assert reason.kind is QuestionKind.REASONS
    assert [o.reason for o in reason.options] == [
        "wait_time", "attitude", "competence", "unresolved", "billing", "other"]
    recommend = surveys["nps-default"].question("recommend")
    assert recommend.kind is QuestionKind.RATING
    assert (recommend.min_value, recommend.max_value) == (0, 10)


def test_reason_question_condition():
    condition = load_survey("csat-default").question("reason").ask_when
    assert condition == Condition("satisfaction", (3, 4, 5), True)
    assert condition.is_met(4)
    assert not condition.is_met(2)
    assert not condition.is_met(5, ("wait_time",))  # the first reply already gave a reason


def test_unknown_question_names_survey():
    with pytest.raises(KeyError, match="csat-default.*nope"):
        load_survey("csat-default").question("nope")


def test_unknown_survey_is_a_clear_error():
    with pytest.raises(DefinitionError, match="no survey definition named 'nope'"):
        load_survey("nope")


def _all_texts():
    for survey in load_surveys().values():
        for key in TEXT_KEYS:
            yield f"{survey.key}.texts.{key}", survey.texts[key]
        for question in survey.questions:
            yield f"{survey.key}.{question.key}.text", question.text


@pytest.mark.parametrize("where, text", list(_all_texts()), ids=lambda v: v if "." in str(v) else "")
def test_every_sms_text_fits_one_segment_and_offers_optout(where, text):
    rendered = text.format(**SAMPLE)
    assert OPTOUT_HINT in rendered, where
    assert len(rendered) <= SMS_SEGMENT, f"{where}: {len(rendered)} characters"


def _raw(name="csat-default"):
    return yaml.safe_load((DEFINITIONS_DIR / f"{name}.yaml").read_text(encoding="utf-8"))


def _broken(mutate):
    data = copy.deepcopy(_raw())
    mutate(data)
    return data


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d.pop("key"), "key"),
    (lambda d: d["texts"].pop("thanks"), "texts.thanks"),
    (lambda d: d.update(questions=[]), "questions"),
    (lambda d: d["questions"][0].update(kind="stars"), "questions[0].kind"),
    (lambda d: d["questions"][0]["options"][1].update(value="two"), "questions[0].options[1].value"),
    (lambda d: d["questions"][0]["options"][1].pop("label"), "questions[0].options[1].label"),
    (lambda d: d["questions"][0]["options"][2].update(aliases="一般般"), "questions[0].options[2].aliases"),
    (lambda d: d["questions"][1]["options"][0].pop("reason"), "questions[1].options[0].reason"),
    (lambda d: d["questions"][1]["ask_when"].update(question="later"), "questions[1].ask_when.question"),
    (lambda d: d["questions"][1]["ask_when"].update(values="3"), "questions[1].ask_when.values"),
    (lambda d: d["questions"][0].update(min_value=9), "questions[0].min_value"),
    (lambda d: d["questions"][0]["options"].append({"value": 1, "label": "重复"}), "questions[0].options"),
])
def test_invalid_definition_names_source_and_field(mutate, field):
    with pytest.raises(DefinitionError) as error:
        survey_from_dict(_broken(mutate), source="bad.yaml")
    assert str(error.value).startswith(f"bad.yaml: {field}:"), str(error.value)


def test_invalid_file_names_the_file(tmp_path):
    (tmp_path / "broken.yaml").write_text("key: [unclosed", encoding="utf-8")
    with pytest.raises(DefinitionError, match="broken.yaml"):
        load_survey("broken", tmp_path)


def test_new_survey_file_loads_without_code_changes(tmp_path):
    data = _raw()
    data["key"] = "csat-short"
    data["questions"] = data["questions"][:1]
    (tmp_path / "csat-short.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert load_surveys(tmp_path)["csat-short"].question("satisfaction").max_value == 5


def test_definitions_are_frozen():
    survey = load_survey("csat-default")
    with pytest.raises(AttributeError):
        survey.key = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        survey.texts["thanks"] = "x"  # type: ignore[index]
