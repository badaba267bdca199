"""The client's store thread: replies and receipts are stored here, in arrival order and in
batches, so a slow or locked database delays only the answers to deliver_sm, never acks or
keepalives on the I/O thread.

Each verdict (stored or not) goes back to the I/O thread through `done`, which answers the
deliver_sm; what could not be stored is answered with an error so the SMSC delivers it again.
"""
from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from typing import Any, Callable

from smpp.inbound import PendingStore
from smpp.masking import mask_address
from smpp.messages import InboundMessage
from smpp.reassembly import Fragment
from smpp.receipts import DeliveryReceipt

log = logging.getLogger(__name__)

BATCH = 500  # replies and receipts stored in one call of on_replies at most

Reply = InboundMessage | Fragment | DeliveryReceipt


class StoreThread:
    """Runs the store callbacks: on_replies for everything waiting at once (one transaction), or
    on_inbound / on_fragment / on_receipt one at a time."""

    def __init__(self, *, on_inbound: Callable[[InboundMessage], None] | None,
                 on_fragment: Callable[[Fragment], None] | None,
                 on_receipt: Callable[[DeliveryReceipt], None] | None,
                 on_replies: Callable[[list[Reply]], None] | None,
                 wake: Callable[[], None]) -> None:
        self._on_inbound = on_inbound or (lambda message: None)
        self._on_receipt = on_receipt or (lambda receipt: None)
        self._on_fragment = on_fragment
        self._on_replies = on_replies
        self._wake = wake
        self._jobs: queue.SimpleQueue[tuple[Any, PendingStore] | None] = queue.SimpleQueue()
        self.done: deque[tuple[Any, PendingStore, bool]] = deque()  # (link, pending, stored)
        self._thread: threading.Thread | None = None

    @property
    def keeps_fragments(self) -> bool:
        """Whether parts of a multipart reply are stored as they come (else joined in memory)."""
        return self._on_fragment is not None or self._on_replies is not None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="smpp-store", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Store what is queued, then end the thread."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(timeout)

    def put(self, link: Any, pending: PendingStore) -> None:
        """Queue a reply received on link; its verdict appears in `done`."""
        self._jobs.put((link, pending))

    def _loop(self) -> None:
        running = True
        while running:
            jobs = [self._jobs.get()]
            while len(jobs) < BATCH and not self._jobs.empty():
                jobs.append(self._jobs.get())
            running = None not in jobs
            work = [job for job in jobs if job is not None]
            if not work:
                continue
            for (link, pending), stored in zip(work, self._store([pending for _, pending in work])):
                self.done.append((link, pending, stored))
            self._wake()

    def _store(self, pendings: list[PendingStore]) -> list[bool]:
        if self._on_replies is None:
            return [self._store_one(pending.item) for pending in pendings]
        try:
            self._on_replies([pending.item for pending in pendings])
            return [True] * len(pendings)
        except Exception:
            if len(pendings) == 1:
                log.exception("storing a deliver_sm from %s failed; asking the SMSC to retry",
                              mask_address(pendings[0].item.source))
                return [False]
        # One bad item must not hold back the rest of its batch, now and each time it comes again.
        log.warning("storing %d deliver_sm together failed; storing them one by one", len(pendings))
        return [verdict for pending in pendings for verdict in self._store([pending])]

    def _store_one(self, item: Reply) -> bool:
        if isinstance(item, DeliveryReceipt):
            store = self._on_receipt
        elif isinstance(item, Fragment):
            store = self._on_fragment  # given: without it, parts are joined in memory
        else:
            store = self._on_inbound
        try:
            store(item)
        except Exception:
            log.exception("storing a deliver_sm from %s failed; asking the SMSC to retry",
                          mask_address(item.source))
            return False
        return True
