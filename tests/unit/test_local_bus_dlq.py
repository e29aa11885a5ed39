"""The local bus's dead letters: a poison message leaves after N attempts, a permanent error at once, the
healthy messages of its batch are delivered, and a replayed dead letter is delivered again."""

from __future__ import annotations

from core.adapters.local_bus import OutboxBus
from core.adapters.sqlite import SqliteStore
from core.errors import InvalidPayload

TOPIC = "telemetry-ingested"


class Handler:
    """Records what it got; fails on payloads named in ``poison`` (permanently when ``permanent``)."""

    def __init__(self, poison: set[bytes], permanent: bool = False) -> None:
        self.poison = poison
        self.permanent = permanent
        self.delivered: list[bytes] = []

    def __call__(self, payloads: list[bytes]) -> None:
        for p in payloads:
            if p in self.poison:
                raise InvalidPayload("bad payload") if self.permanent else RuntimeError("transient failure")
        self.delivered += payloads


def test_a_poison_message_is_dead_lettered_after_max_attempts(store: SqliteStore) -> None:
    handler = Handler({b"poison"})
    bus = OutboxBus(store, max_attempts=3)
    bus.subscribe(TOPIC, handler)
    store.enqueue_outbox([(TOPIC, b"a"), (TOPIC, b"poison"), (TOPIC, b"b")])
    assert bus.drain() == 2  # the healthy ones pass on the first pass
    assert sorted(handler.delivered) == [b"a", b"b"]
    assert store.outbox_backlog() == 1 and store.dead_letter_count() == 0
    bus.drain()
    assert store.dead_letter_count() == 0
    bus.drain()
    assert store.outbox_backlog() == 0 and store.dead_letter_count() == 1
    [letter] = store.list_dead_letters()
    assert letter.payload == b"poison" and letter.attempts == 3 and "transient failure" in letter.reason
    assert sorted(handler.delivered) == [b"a", b"b"]


def test_a_permanent_error_dead_letters_at_once(store: SqliteStore) -> None:
    handler = Handler({b"bad"}, permanent=True)
    bus = OutboxBus(store)
    bus.subscribe(TOPIC, handler)
    store.enqueue_outbox([(TOPIC, b"bad"), (TOPIC, b"ok")])
    bus.drain()
    assert store.outbox_backlog() == 0
    [letter] = store.list_dead_letters()
    assert letter.payload == b"bad" and letter.reason.startswith("permanent: InvalidPayload")
    assert handler.delivered == [b"ok"]


def test_an_error_marked_permanent_is_permanent(store: SqliteStore) -> None:
    class Permanent(Exception):
        permanent = True

    def handler(payloads: list[bytes]) -> None:
        raise Permanent("never")

    bus = OutboxBus(store)
    bus.subscribe(TOPIC, handler)
    store.enqueue_outbox([(TOPIC, b"x")])
    bus.drain()
    assert store.dead_letter_count() == 1


def test_a_replayed_dead_letter_is_delivered(store: SqliteStore) -> None:
    handler = Handler({b"later"}, permanent=True)
    bus = OutboxBus(store)
    bus.subscribe(TOPIC, handler)
    store.enqueue_outbox([(TOPIC, b"later")])
    bus.drain()
    assert store.dead_letter_count() == 1
    handler.poison.clear()  # the cause was fixed
    assert store.replay_dead_letters() == 1
    assert bus.drain() == 1
    assert handler.delivered == [b"later"]
    assert store.dead_letter_count() == 0 and store.outbox_backlog() == 0


def test_healthy_batches_are_delivered_together_and_never_counted(store: SqliteStore) -> None:
    calls: list[list[bytes]] = []
    bus = OutboxBus(store)
    bus.subscribe(TOPIC, calls.append)
    store.enqueue_outbox([(TOPIC, b"1"), (TOPIC, b"2"), (TOPIC, b"3")])
    assert bus.drain() == 3
    assert calls == [[b"1", b"2", b"3"]]
    assert store.dead_letter_count() == 0 and store.outbox_backlog() == 0
