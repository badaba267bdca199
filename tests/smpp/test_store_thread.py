"""The store thread on its own: batches, verdicts, and a bad item that must not hold back the rest."""
from __future__ import annotations

import threading

from smpp.inbound import PendingStore
from smpp.messages import InboundMessage
from smpp.store_thread import StoreThread


def _run(store: StoreThread, texts: list[str]) -> list[tuple[str, bool]]:
    store.start()
    for sequence, text in enumerate(texts):
        store.put("link", PendingStore(sequence, InboundMessage("8613800000000", "10655", text, 8)))
    store.stop(5)
    return [(pending.item.text, stored) for _, pending, stored in store.done]


def test_a_bad_reply_in_a_batch_is_refused_alone():
    batches: list[list[str]] = []

    def on_replies(items):
        if any(item.text == "\x00bad" for item in items):
            raise ValueError("cannot store")
        batches.append([item.text for item in items])

    store = StoreThread(on_inbound=None, on_fragment=None, on_receipt=None, on_replies=on_replies,
                        wake=lambda: None)
    verdicts = _run(store, ["1", "\x00bad", "满意"])
    assert verdicts == [("1", True), ("\x00bad", False), ("满意", True)]
    assert sorted(text for batch in batches for text in batch) == ["1", "满意"]


def test_replies_waiting_together_are_stored_in_one_call():
    gate, calls = threading.Event(), []

    def on_replies(items):
        gate.wait(5)  # the first call holds the thread while the rest queue up
        calls.append(len(items))

    store = StoreThread(on_inbound=None, on_fragment=None, on_receipt=None, on_replies=on_replies,
                        wake=gate.set)
    store.start()
    store.put("link", PendingStore(0, InboundMessage("8613800000000", "10655", "first", 8)))
    for sequence in range(1, 6):
        store.put("link", PendingStore(sequence, InboundMessage("8613800000000", "10655", "x", 8)))
    gate.set()
    store.stop(5)
    assert sum(calls) == 6 and len(calls) <= 2
