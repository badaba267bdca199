"""Reply understanding: a subscriber's text → a score, reasons, an opt-out or "unclear". Pure logic
(normalisation, lexicons as data, numbers, verbal scales), no database or web framework."""
