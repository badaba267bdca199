"""Analysis: metrics, short-board tests, trends and exports.

frame (AnswerFrame), answers_csv and queries (the only SQL) produce frames; metrics, stats,
spread, shortboard (+ casemix, drivers) and trends compute frozen results; report, exports and
charts render them.
"""
