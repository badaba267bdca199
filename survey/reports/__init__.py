"""What the manager and channel-lead pages show, computed without a web framework.

Plain arguments in (a database session, a parsed ReportFilter, the viewer's scope of outlet codes),
frozen dataclasses out, so the pages, the downloads and the read API share one implementation.
Scope is the WHERE clause of every query (analysis.queries); something outside it is NotVisible,
exactly as if it did not exist.
"""
