"""The survey engine's jobs, each a transaction that a kill at any point leaves consistent.

decide (interactions → decisions and scheduled sessions), dispatch (due messages → the SMPP client),
acks and receipts (what the SMSC says back), replies and fragments (what subscribers say), expire
(windows that passed), all driven by the worker; steps carries out the state machine's decisions.
"""
