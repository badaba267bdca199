"""Closed-loop cases: a dissatisfied answer becomes a case with an owner, a deadline by customer tier,
escalation and a recovery check by SMS. The pure core (states, rules, deadlines, machine, taxonomy,
recovery, config) does no I/O; opening, actions, recoveries and queries work on a database session."""
