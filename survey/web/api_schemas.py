"""The read API's schemas: the query strings each view accepts (they validate the request) and
the answers it gives (they shape the JSON); the OpenAPI document is generated from both."""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, pre_dump, validate

from channels.characters import text_problem
from channels.taxonomy import Channel
from survey import readapi
from survey.reasons import REASON_LABELS


# Query strings --------------------------------------------------------------------------------

class ListParam(fields.List):
    """A repeatable query parameter whose values may also be comma-separated (?by=channel,city)."""

    def _deserialize(self, value, attr, data, **kwargs):
        items = value if isinstance(value, list) else [value]
        parts = [part.strip() for item in items for part in str(item).split(",") if part.strip()]
        return tuple(dict.fromkeys(super()._deserialize(parts, attr, data, **kwargs)))  # each value once


class Printable(validate.Validator):
    """Text a database can compare: no controls, lone surrogates or bidi overrides (PostgreSQL
    refuses a NUL outright), as the ingest API refuses them in what it stores."""

    def __init__(self, *, free: bool = False) -> None:
        self.free = free

    def __call__(self, value: str) -> str:
        problem = text_problem(value, free=self.free)
        if problem is not None:
            raise ValidationError(problem)
        return value


def _text(limit: int, *, free: bool = False) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=limit), Printable(free=free)])


def _grouping(max_columns: int, *, default: tuple[str, ...] = (), minimum: int = 0) -> ListParam:
    return ListParam(fields.String(validate=validate.OneOf(readapi.GROUPINGS)), load_default=default,
                     validate=validate.Length(min=minimum, max=max_columns), metadata={
                         "description": f"group by up to {max_columns} of: {', '.join(readapi.GROUPINGS)}"})


class NoQuery(Schema):
    """No parameters: one given anyway is refused rather than silently ignored."""

    class Meta:
        unknown = RAISE


class FilterQuery(NoQuery):
    """The pages' filters."""

    period = fields.String(validate=validate.Regexp(r"^(7d|30d|90d|180d|365d|\d{4}-(0[1-9]|1[0-2]))$"),
                           metadata={"description": "answers of the last 7d, 30d, 90d, 180d or 365d up to today, or "
                                                    "of a local month YYYY-MM; default 30d (trends: 365d)",
                                     "example": "30d"})
    since = fields.Date(metadata={"description": "first local day (inclusive); with until, overrides period; "
                                                 "alone, runs to today"})
    until = fields.Date(metadata={"description": "last local day (inclusive); alone, the default period's length "
                                                 "up to it; at most 1,098 days after since"})
    channel = ListParam(fields.String(validate=validate.OneOf([c.value for c in Channel])), load_default=())
    business_type = ListParam(_text(64), load_default=(),
                              metadata={"description": "code or Chinese name, e.g. broadband or 宽带"})
    tier = ListParam(_text(64, free=True), load_default=(),
                     metadata={"description": "customer tier, e.g. 金卡"})
    brand = ListParam(_text(64, free=True), load_default=(),
                      metadata={"description": "customer brand, e.g. 全球通"})
    outlet = ListParam(_text(32), load_default=(),
                       metadata={"description": "outlet codes; one outside the token's scope answers 404"})


class ResultsQuery(FilterQuery):
    by = _grouping(3)


class ShortBoardsQuery(FilterQuery):
    by = _grouping(2, default=("outlet",), minimum=1)
    min_n = fields.Integer(load_default=30, validate=validate.Range(1, 1_000_000),
                           metadata={"description": "groups with fewer answers are pooled or listed apart"})
    alpha = fields.Float(load_default=0.05, validate=validate.Range(0.0001, 0.5),
                         metadata={"description": "significance after Holm or Benjamini-Hochberg adjustment"})
    all = fields.Boolean(load_default=False, metadata={"description": "also list every tested group, ranked"})


class TrendsQuery(FilterQuery):
    by = _grouping(2)
    interval = fields.String(load_default="month", validate=validate.OneOf(["week", "month"]))
    min_n = fields.Integer(load_default=30, validate=validate.Range(1, 1_000_000),
                           metadata={"description": "answers a group needs in each window to be tested"})
    alpha = fields.Float(load_default=0.05, validate=validate.Range(0.0001, 0.5),
                         metadata={"description": "false discovery rate of the alerts (Benjamini-Hochberg)"})


class OutletQuery(FilterQuery):
    pass


# Answers --------------------------------------------------------------------------------------

class Number(fields.Float):
    """A float that is null where there is nothing to compute (NaN: no answers)."""

    def __init__(self, **kwargs):
        super().__init__(allow_none=True, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return super()._serialize(readapi.finite(None if value is None else float(value)), attr, obj, **kwargs)


class WindowSchema(Schema):
    since = fields.DateTime(allow_none=True, metadata={"description": "UTC, inclusive"})
    until = fields.DateTime(allow_none=True, metadata={"description": "UTC, exclusive"})
    channel = fields.List(fields.String())
    business_type = fields.List(fields.String(), metadata={"description": "codes"})
    tier = fields.List(fields.String())
    brand = fields.List(fields.String())
    outlet = fields.List(fields.String())


class ReasonSchema(Schema):
    code = fields.String(required=True)
    label = fields.String(required=True)
    share = Number(required=True, metadata={"description": "share of the group's answers naming it"})


class CsatSchema(Schema):
    responses = fields.Integer(required=True)
    sent = fields.Integer(allow_none=True, metadata={"description": "surveys sent (null when grouped or "
                                                                    "filtered by a customer attribute)"})
    response_rate = Number()
    satisfied = fields.Integer(required=True, metadata={"description": "answers 1 or 2 (top-2-box)"})
    csat = Number(required=True, metadata={"description": "satisfied / responses"})
    csat_low = Number(required=True, metadata={"description": "95% Wilson interval"})
    csat_high = Number(required=True)
    mean_score = Number(metadata={"description": "1 best .. 5 worst"})
    dissatisfied_share = Number(metadata={"description": "answers 4 or 5 / responses"})
    reasons = fields.List(fields.Nested(ReasonSchema), required=True)

    @pre_dump
    def reasons_with_labels(self, metrics, **_):
        named = [{"code": c, "label": REASON_LABELS.get(c, c), "share": s} for c, s in metrics.reason_shares]
        return {**{name: getattr(metrics, name) for name in self.fields if name != "reasons"}, "reasons": named}


class NpsSchema(Schema):
    responses = fields.Integer(required=True)
    nps = Number(required=True, metadata={"description": "-100 .. 100"})
    nps_low = Number(required=True, metadata={"description": "95% interval"})
    nps_high = Number(required=True)
    promoters = fields.Integer(required=True)
    detractors = fields.Integer(required=True)


class GroupSchema(Schema):
    key = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    label = fields.String(required=True)
    csat = fields.Nested(CsatSchema, allow_none=True, required=True)
    nps = fields.Nested(NpsSchema, allow_none=True, required=True)
    interactions = fields.Integer(allow_none=True, metadata={"description": "ended interactions in the window"})
    dissatisfied_per_10k = Number(metadata={"description": "dissatisfied answers per 10,000 interactions"})


class ResultsSchema(Schema):
    by = fields.List(fields.String(), required=True)
    filters = fields.Nested(WindowSchema, required=True)
    total = fields.Nested(GroupSchema, required=True)
    groups = fields.List(fields.Nested(GroupSchema), required=True)


class AdjustedSchema(Schema):
    expected = Number(required=True)
    observed = fields.Integer(required=True)
    ratio = Number(required=True)
    rate = Number(required=True, metadata={"description": "indirectly standardised rate"})
    gap = Number(required=True)
    impact = Number(required=True)
    p = Number(required=True)
    q = Number(required=True)
    flagged = fields.Boolean(required=True)
    expected_rate = Number(required=True, metadata={"description": "the rest's rate in each of its case-mix cells"})
    shrunken_rate = Number(required=True)
    shrunken_low = Number(required=True)
    shrunken_high = Number(required=True)


class ViewSchema(Schema):
    view = fields.String(required=True, metadata={"description": "raw or adjusted"})
    observed = Number(required=True)
    expected = Number(required=True, metadata={"description": "the rest's rate (raw) or its case-mix cells' (adjusted)"})
    adjusted = Number(required=True, metadata={"description": "indirectly standardised rate (raw: the observed)"})
    gap = Number(required=True, metadata={"description": "expected - observed"})
    p = Number(required=True)
    q = Number(required=True)
    impact = Number(required=True, metadata={"description": "satisfied answers lost, n x gap"})
    shrunken = Number(required=True)
    shrunken_low = Number(required=True)
    shrunken_high = Number(required=True)
    flagged = fields.Boolean(required=True)


class BoardSchema(Schema):
    group = fields.String(required=True)
    key = fields.List(fields.String(), required=True)
    scope = fields.String(required=True, metadata={"description": "what the group is compared within"})
    n = fields.Integer(required=True)
    satisfied = fields.Integer(required=True)
    rate = Number(required=True)
    rate_low = Number(required=True)
    rate_high = Number(required=True)
    rest_rate = Number(required=True, metadata={"description": "the expected rate: the rest of its scope"})
    scope_rate = Number(required=True)
    gap = Number(required=True, metadata={"description": "rest rate - rate"})
    impact = Number(required=True, metadata={"description": "satisfied customers lost against the rest"})
    p = Number(required=True)
    q = Number(required=True)
    p_exact = Number(required=True)
    p_mann_whitney = Number(required=True)
    worse_prob = Number(required=True)
    shrunken_rate = Number(required=True)
    flagged = fields.Boolean(required=True)
    top_reasons = fields.List(fields.String(), required=True)
    pooled_groups = fields.Integer(required=True)
    adjusted = fields.Nested(AdjustedSchema, allow_none=True, required=True)
    flagged_adjusted = fields.Boolean(required=True)
    headline = fields.Nested(ViewSchema, required=True, metadata={"description": "the report's headline view"})


class NotEnoughSchema(Schema):
    group = fields.String(required=True)
    n = fields.Integer(required=True)
    rolled_up_to = fields.String(allow_none=True, required=True)


class ShortBoardsSchema(Schema):
    by = fields.List(fields.String(), required=True)
    within = fields.List(fields.String(), required=True)
    adjustment = fields.String(required=True)
    alpha = Number(required=True)
    min_n = fields.Integer(required=True)
    tau2 = Number(required=True, metadata={"description": "natural between-group spread"})
    filters = fields.Nested(WindowSchema, required=True)
    shortboards = fields.List(fields.Nested(BoardSchema), required=True)
    shortboards_adjusted = fields.List(fields.Nested(BoardSchema), required=True)
    headline = fields.String(required=True, metadata={
        "description": "adjusted when business type x tier explain differences in satisfaction, else raw"})
    headline_shortboards = fields.List(fields.Nested(BoardSchema), required=True, metadata={
        "description": "short boards of either view, the headline's first"})
    watch_list = fields.List(fields.Nested(BoardSchema), required=True, metadata={
        "description": "when the headline view flags nothing: the worst groups by shrunken estimate"})
    not_enough_answers = fields.List(fields.Nested(NotEnoughSchema), required=True)
    groups = fields.List(fields.Nested(BoardSchema), metadata={"description": "every tested group (all=true)"})


class PointSchema(Schema):
    period = fields.String(required=True, metadata={"description": "local start of the week or month"})
    n = fields.Integer(required=True)
    rate = Number(required=True)
    low = Number(required=True)
    high = Number(required=True)


class SeriesSchema(Schema):
    key = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    label = fields.String(required=True)
    points = fields.List(fields.Nested(PointSchema), required=True)


class AlertSchema(Schema):
    key = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    label = fields.String(required=True)
    window = fields.String(required=True, metadata={"description": "short: the last month; long: the last 3"})
    n_recent = fields.Integer(required=True)
    n_baseline = fields.Integer(required=True)
    recent_rate = Number(required=True)
    baseline_rate = Number(required=True)
    change = Number(required=True, metadata={"description": "recent level - baseline level"})
    se = Number(required=True, metadata={"description": "standard error of the change, swing allowance included"})
    z = Number(required=True)
    p = Number(required=True, metadata={"description": "one-sided, in the direction of the change"})
    q = Number(required=True)
    alert = fields.Boolean(required=True, metadata={"description": "significantly worse"})
    improved = fields.Boolean(required=True, metadata={"description": "significantly better"})
    direction = fields.String(allow_none=True, required=True,
                              metadata={"description": "deterioration, improvement or null"})


class TrendWindowsSchema(Schema):
    baseline = fields.List(fields.String(), required=True, metadata={
        "description": "first and last month of the long window's baseline"})
    long = fields.List(fields.String(), required=True)
    short = fields.List(fields.String(), required=True)
    short_baseline = fields.List(fields.String(), required=True)
    allowance = Number(required=True, metadata={
        "description": "standard deviation of ordinary month-to-month swings (a proportion), estimated from the data"})
    allowance_groups = fields.Integer(required=True, metadata={"description": "groups the allowance rests on"})


class TrendsSchema(Schema):
    by = fields.List(fields.String(), required=True)
    interval = fields.String(required=True)
    filters = fields.Nested(WindowSchema, required=True)
    series = fields.List(fields.Nested(SeriesSchema), required=True)
    alerts = fields.List(fields.Nested(AlertSchema), required=True, metadata={
        "description": "per group and window, against the months before it; alert = significantly worse"})
    windows = fields.Nested(TrendWindowsSchema, allow_none=True, required=True,
                            metadata={"description": "the months compared and the swing allowed for "
                                                     "(null: no answers)"})


class OutletSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    channel = fields.String(required=True)
    kind = fields.String(required=True)
    region = fields.String(required=True)
    city = fields.String(required=True)


class OutletListSchema(Schema):
    outlets = fields.List(fields.Nested(OutletSchema), required=True)


class OutletResultsSchema(Schema):
    outlet = fields.Nested(OutletSchema, required=True)
    results = fields.Nested(ResultsSchema, required=True, metadata={"description": "by business type"})
