"""SMPP 3.4: the ESME client session, text encoding, receipts, MO reassembly and an SMSC simulator."""
