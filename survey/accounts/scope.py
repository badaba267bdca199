"""What a user may see, as the outlet codes every query's WHERE clause takes (analysis.queries'
`scope`): never a filter applied to results afterwards, never links hidden in a page."""
from __future__ import annotations

from survey.accounts.models import Role, User


def scope_for(user: User) -> tuple[str, ...] | None:
    """None for admins and managers (every outlet); a channel lead's own outlet codes, which may be
    none at all: a lead whose outlets were all taken away sees nothing, not everything."""
    if user.role is Role.CHANNEL_LEAD:
        return tuple(sorted(outlet.code for outlet in user.outlets))
    return None
