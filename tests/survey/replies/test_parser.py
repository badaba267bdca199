"""Reply understanding, one table per behaviour the issue names."""
from __future__ import annotations

import numpy as np
import pytest

from survey.definitions import QuestionKind, load_survey, survey_from_dict
from survey.replies.ngram_model import DEFAULT_ARBITRATION, NgramModel
from survey.replies.parser import ParsedReply, ReplyKind, parse_reply

CSAT = load_survey("csat-default")
NPS = load_survey("nps-default")
SATISFACTION = CSAT.question("satisfaction")
REASON = CSAT.question("reason")
RECOMMEND = NPS.question("recommend")

ANSWER, OPTOUT, UNCLEAR = ReplyKind.ANSWER, ReplyKind.OPTOUT, ReplyKind.UNCLEAR


def check(question, text, kind, value=None, reasons=None) -> ParsedReply:
    got = parse_reply(question, text)
    assert (got.kind, got.value) == (kind, value), f"{text!r}: {got}"
    if reasons is not None:
        assert set(got.reasons) == set(reasons), f"{text!r}: {got}"
    assert got.text == text  # verbatim, never the normalised form
    return got


@pytest.mark.parametrize("text, value", [
    ("1", 1), ("５", 5), ("１。", 1), ("③", 3), ("❷", 2), ("二", 2), ("贰", 2), ("肆", 4), ("两", 2),
    ("【1】", 1), ("1。", 1), ("1!!!", 1), ("回复1", 1), ("我选2", 2), ("选择3", 3), ("答案是4", 4),
    ("1🙂", 1), ("👍2👍", 2), ("2。谢谢", 2), ("谢谢！1", 1), ("thank you, 1", 1), (" 3\n", 3),
    ("\x002\x07", 2), ("选二", 2), ("5分", 5),
])
def test_digits_numerals_and_decoration(text, value):
    check(SATISFACTION, text, ANSWER, value)


@pytest.mark.parametrize("text, value", [
    ("非常满意", 1), ("很满意", 1), ("相当满意", 1), ("满意极了", 1), ("十分满意", 1), ("超级满意", 1),
    ("满意", 2), ("比较满意", 2), ("挺满意的", 2), ("蛮满意的", 2), ("总体满意", 2), ("还算满意", 2),
    ("一般", 3), ("还行", 3), ("还可以吧", 3), ("马马虎虎", 3), ("说得过去", 3),
    ("不太满意", 4), ("不大满意", 4), ("不是很满意", 4), ("不满意", 4), ("不很满意", 4),
    ("非常不满意", 5), ("很不满意", 5), ("太不满意了", 5), ("一点也不满意", 5),
    ("没什么不满意的", 2), ("没有不满意", 2),
    ("滿意", 2), ("很不滿意", 5), ("非常滿意", 1),
    ("Very satisfied!", 1), ("satisfied", 2), ("so-so", 3), ("not satisfied", 4),
    ("not very satisfied", 4), ("very unsatisfied", 5), ("extremely dissatisfied", 5),
    ("很不错", 1), ("不错", 2), ("挺好", 2), ("不好", 4), ("很差", 5), ("五星好评", 1),
    ("挺好的，谢谢", 2), ("非常的满意", 1), ("很是满意", 1), ("不是很好", 4), ("没有那么满意", 4), ("正常", 3),
])
def test_verbal_answers_with_degree_and_negation(text, value):
    check(SATISFACTION, text, ANSWER, value)


@pytest.mark.parametrize("text, value, reasons", [
    ("4 排队太久", 4, ["wait_time"]),
    ("4 排了好久的队", 4, ["wait_time"]),
    ("5 服务员很凶", 5, ["attitude"]),
    ("不满意，套餐收费太乱", 4, ["billing"]),
    ("3 网络不好", 3, ["network"]),
    ("满意，就是手续有点多", 2, ["process"]),
    ("3点去的，很不满意", 5, []),
    ("等了40分钟，2", 2, ["wait_time"]),
    ("排了2个小时队，5", 5, ["wait_time"]),
    ("第3次来了，4 系统老是卡顿", 4, ["system"]),
    ("10086打不通，4", 4, ["wait_time"]),
    ("态度很好，1", 1, []),  # praise is not a complaint
])
def test_value_and_reasons_in_one_reply(text, value, reasons):
    check(SATISFACTION, text, ANSWER, value, reasons)


@pytest.mark.parametrize("text, reasons", [
    ("1", ["wait_time"]), ("6", ["other"]), ("1,3", ["wait_time", "competence"]),
    ("1和2", ["wait_time", "attitude"]), ("1、4", ["wait_time", "unresolved"]),
    ("13", ["wait_time", "competence"]), ("①③", ["wait_time", "competence"]),
    ("一和三", ["wait_time", "competence"]), ("2 3 5", ["attitude", "competence", "billing"]),
    # An option by its place in the list (read as glued to "第" before, so never an option).
    ("第一个", ["wait_time"]), ("第二个吧", ["attitude"]), ("第4项", ["unresolved"]),
    ("第一个和第四个", ["wait_time", "unresolved"]),
])
def test_reasons_by_option_number(text, reasons):
    check(REASON, text, ANSWER, None, reasons)


@pytest.mark.parametrize("text, reasons", [
    ("等待时间太长", ["wait_time"]), ("电话一直占线", ["wait_time"]), ("说话难听", ["attitude"]),
    ("营业员一直在玩手机", ["attitude"]), ("讲不明白", ["competence"]), ("到现在还没处理", ["unresolved"]),
    ("扣费不明", ["billing"]), ("信号差", ["network"]), ("宽带老掉线", ["network"]),
    ("系统太慢", ["system"]), ("系统升级办不了业务", ["system"]), ("材料要求太多", ["process"]),
    ("厅里太挤", ["environment"]), ("排队久而且态度不好", ["wait_time", "attitude"]),
    ("6 信号不好", ["network"]), ("2 营业员不理人", ["attitude"]), ("態度不好", ["attitude"]),
    ("rude staff", ["attitude"]), ("long queue", ["wait_time"]),
    ("取消套餐的时候等太久", ["wait_time"]),
    ("希望你们改进一下工作", ["other"]),  # an opinion in their own words
])
def test_reasons_by_words(text, reasons):
    check(REASON, text, ANSWER, None, reasons)


OPTOUTS = ["TD", "td", "ＴＤ", "退订", "0000", "STOP", "Stop!", "取消", "取消吧", "取消订阅",
           "不要再发了", "别再发短信了", "别发了", "别给我发短信", "烦死了，以后别再发了", "回复TD退订",
           "退订，谢谢", "unsubscribe", "不要再给我发这种短信了好吗", "我要取消", "帮我退订", "请停止发送",
           "以后这种短信不要发给我了", "t d"]


@pytest.mark.parametrize("question", [SATISFACTION, REASON, RECOMMEND], ids=lambda q: q.key)
@pytest.mark.parametrize("text", OPTOUTS)
def test_optout_in_every_form(question, text):
    check(question, text, OPTOUT)


@pytest.mark.parametrize("text", ["取消套餐的时候等太久", "退订套餐太麻烦了", "stopped", "100000",
                                  # someone's words reported, and a step of a business
                                  '他说"买不起就别问"', "她回我：不要再来烦我", "改套餐要先退订再重新办"])
def test_not_fooled_into_optout(text):
    assert parse_reply(REASON, text).kind is not OPTOUT


@pytest.mark.parametrize("text", [
    "8", "0", "12", "6", "1 2", "1或2", "你好", "？？", "在吗", "你们是谁", "好的", "收到", "嗯",
    "什么意思？", "好", "OK", "1.5", "", "   ", "😀", "3点", "10086", "满意度调查？", "短信收到了",
    "排队太久了",  # a complaint without a score: the score is asked again
    "我没有办理业务",
])
def test_unclear_on_satisfaction(text):
    check(SATISFACTION, text, UNCLEAR)


@pytest.mark.parametrize("text", ["？", "你们是谁", "好的", "7", "没有", "非常满意"])
def test_unclear_on_reasons(text):
    check(REASON, text, UNCLEAR)


@pytest.mark.parametrize("text, kind, value", [
    ("10", ANSWER, 10), ("0", ANSWER, 0), ("１０", ANSWER, 10), ("8分", ANSWER, 8), ("十分", ANSWER, 10),
    ("七分", ANSWER, 7), ("零分", ANSWER, 0), ("满分10分", ANSWER, 10), ("满分", ANSWER, 10),
    ("满分10分我给7分", ANSWER, 7), ("10分满分给9", ANSWER, 9), ("10分满分", ANSWER, 10),
    ("给9分", ANSWER, 9), ("10分 很满意", ANSWER, 10), ("五分吧", ANSWER, 5), ("3点去的，给6分", ANSWER, 6),
    ("12", UNCLEAR, None), ("100分", UNCLEAR, None), ("7 8", UNCLEAR, None), ("不清楚", UNCLEAR, None),
    ("非常满意", UNCLEAR, None),  # no number on a 0..10 question
])
def test_rating(text, kind, value):
    check(RECOMMEND, text, kind, value)


# A survey the parser has never seen: a 1..3 scale with its own labels, and its own reason list.
TRAFFIC_LIGHT = survey_from_dict({
    "key": "traffic-light", "name": "三档评价",
    "texts": {"reask": "请回复1-3。回复TD退订", "thanks": "谢谢！回复TD退订", "optout_confirm": "已退订。回复TD退订"},
    "questions": [
        {"key": "grade", "kind": "scale", "text": "回复1好 2中 3差。回复TD退订",
         "options": [{"value": 1, "label": "好", "aliases": ["满意"]},
                     {"value": 2, "label": "中", "aliases": ["一般"]},
                     {"value": 3, "label": "差", "aliases": ["不满意"]}]},
        {"key": "why", "kind": "reasons", "text": "原因？1慢 2贵 3其他。回复TD退订",
         "options": [{"value": 1, "label": "办理太慢", "reason": "wait_time"},
                     {"value": 2, "label": "价格太高", "reason": "billing"},
                     {"value": 3, "label": "其他", "reason": "other"}]},
    ],
})
GRADE = TRAFFIC_LIGHT.question("grade")
WHY = TRAFFIC_LIGHT.question("why")


@pytest.mark.parametrize("text, kind, value", [
    ("1", ANSWER, 1), ("3", ANSWER, 3), ("4", UNCLEAR, None), ("5", UNCLEAR, None),
    ("好", ANSWER, 1), ("中", ANSWER, 2), ("差", ANSWER, 3), ("【中】", ANSWER, 2),
    ("满意", ANSWER, 1), ("非常满意", ANSWER, 1), ("一般", ANSWER, 2), ("很不满意", ANSWER, 3),
    ("不好", ANSWER, 3), ("TD", OPTOUT, None), ("好的", UNCLEAR, None),
])
def test_survey_defined_as_data_only(text, kind, value):
    assert GRADE.kind is QuestionKind.SCALE
    check(GRADE, text, kind, value)


@pytest.mark.parametrize("text, reasons", [
    ("1", ["wait_time"]), ("2", ["billing"]), ("12", ["wait_time", "billing"]), ("价格太高", ["billing"]),
    ("3", ["other"]),
])
def test_reasons_of_a_survey_defined_as_data_only(text, reasons):
    check(WHY, text, ANSWER, None, reasons)


def test_parsed_reply_is_immutable():
    got = parse_reply(SATISFACTION, "1")
    with pytest.raises(AttributeError):
        got.value = 2  # type: ignore[misc]


def test_remembered_readings_keep_each_verbatim_text():
    first = parse_reply(SATISFACTION, "【2】")
    second = parse_reply(SATISFACTION, "２。")  # the same normalised text, a different reply
    assert (first.value, second.value) == (2, 2)
    assert (first.text, second.text) == ("【2】", "２。")


def test_memo_is_bounded(monkeypatch):
    from survey.replies import parser

    monkeypatch.setattr(parser, "MEMO_LIMIT", 3)
    parser.clear_memo()
    for value in range(1, 6):
        assert parse_reply(SATISFACTION, f"{value} 谢谢").value == value
    assert all(len(c.memo) <= 3 for c in parser._compiled.values())


def _biased_model(probable: str, *, arbitration: float) -> NgramModel:
    """A model that knows no n-gram and finds `probable` far likelier than any other reason."""
    classes = ("wait_time", "billing", "other")
    bias = np.array([5.0 if code == probable else 0.0 for code in classes])
    return NgramModel(classes, {}, np.zeros((0, len(classes))), bias, threshold=0.5, arbitration=arbitration)


def test_a_model_given_is_used_and_its_readings_not_remembered():
    from survey.replies import parser

    text = "今天天气真不错呀朋友"  # no reason phrase: the model alone may name one
    parser.clear_memo()
    assert parse_reply(REASON, text, model=None).reasons == ("other",)
    assert parse_reply(REASON, text, model=_biased_model("billing", arbitration=0.5)).reasons == ("billing",)
    assert all(not c.memo for c in parser._compiled.values())


@pytest.mark.parametrize("arbitration, reasons", [(0.0, {"wait_time", "billing"}), (0.5, {"billing"})])
def test_the_model_arbitrates_between_reasons_by_its_ratio(arbitration, reasons):
    model = _biased_model("billing", arbitration=arbitration)
    assert set(parse_reply(REASON, "排队太久，还乱收费", model=model).reasons) == reasons
    got = parse_reply(SATISFACTION, "4 排队太久，还乱收费", model=model)  # every question kind alike
    assert (got.value, set(got.reasons)) == (4, reasons)


def test_the_arbitration_ratio_travels_with_the_model_file():
    model = _biased_model("billing", arbitration=0.42)
    assert NgramModel.from_dict(model.to_dict()).arbitration == pytest.approx(0.42)
    older = {key: value for key, value in model.to_dict().items() if key != "arbitration"}
    assert NgramModel.from_dict(older).arbitration == DEFAULT_ARBITRATION
