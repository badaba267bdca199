"""Report packs on the operators' rhythm: the daily alert digest, the 10-day report (旬报) and the
monthly report, built by the worker per scope once each period has ended, stored as rows (XLSX and
the JSON data behind it) and downloaded by the users whose scope they are.

periods (pure: which periods have ended), models (the rows), building (a pack's content from the
database, deterministic), service (what is due, building it once across workers, who may read what).
"""
