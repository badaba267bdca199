"""`touchpoint demo`: a living operator — outlets of every channel, subscribers, demo sign-ins, 60 days
of history replayed through the real pipeline on a fast-forwarded clock, then live traffic."""
from survey.demo.command import demo_command

__all__ = ["demo_command"]
