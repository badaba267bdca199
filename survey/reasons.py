"""The reason taxonomy: why a customer was dissatisfied, as codes the parser gives, the analysis
counts and the pages name. `other` only when nothing more specific is recognised."""
from __future__ import annotations

REASON_LABELS: dict[str, str] = {
    "wait_time": "等待时间长",
    "attitude": "服务态度差",
    "competence": "业务不熟练",
    "unresolved": "问题未解决",
    "process": "流程繁琐",
    "billing": "资费/收费问题",
    "network": "网络/信号问题",
    "system": "系统故障",
    "environment": "环境设施",
    "other": "其他",
}
REASON_CODES: tuple[str, ...] = tuple(REASON_LABELS)
