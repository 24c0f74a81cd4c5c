"""The benchmark's shared test-clock moves (bench/turns.py): a client is served only by a move that leaves the
clock far enough past where it was when the client asked."""

from __future__ import annotations

import datetime as dt
import threading
import time

from bench.turns import Calendar

DAY = 86400


class Server:
    """Review's test clock as the moves see it: a move lands at once, its answer may come later."""

    def __init__(self) -> None:
        self.offset = 0
        self.moves: list[int] = []

    def send(self, amount: int, landed: threading.Event | None = None, answer: threading.Event | None = None):
        self.offset += amount
        self.moves.append(amount)
        if landed is not None:
            landed.set()
        if answer is not None:
            answer.wait(5)
        return {"to": (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.offset)).isoformat()}


def test_a_move_under_way_when_a_client_asks_does_not_serve_it():
    server, calendar = Server(), Calendar()
    calendar.offset = 0
    landed, answer = threading.Event(), threading.Event()
    first = threading.Thread(target=calendar.advance, args=(15 * DAY, lambda s: server.send(s, landed, answer)))
    first.start()
    assert landed.wait(5)  # the first client's move is on the server, its answer not back yet
    # Now the second client acts (starts its publicity, by the clock the move left) and asks for 15 days more.
    second = threading.Thread(target=calendar.advance, args=(15 * DAY, server.send))
    second.start()
    time.sleep(0.05)
    answer.set()
    first.join(5)
    second.join(5)
    assert server.offset == 30 * DAY and server.moves == [15 * DAY, 15 * DAY]


def test_clients_waiting_together_share_one_move():
    server, calendar = Server(), Calendar()
    calendar.offset = 0
    calendar.day_spans = 1  # a meeting holds the clock: both clients wait for it to end
    clients = [threading.Thread(target=calendar.advance, args=(15 * DAY, server.send)) for _ in range(2)]
    for client in clients:
        client.start()
    time.sleep(0.05)
    calendar.close_span()
    for client in clients:
        client.join(5)
    assert server.moves == [15 * DAY] and server.offset == 15 * DAY
