"""The view decorators: a unit of work per request that commits only when the view returns, and
the pagination helper (on a real SQLite database, no broker)."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from services.notify.models import Base, Contact, Inbox, Outbox
from shared.paging import paged
from shared.uow import Database
from shared.web.views import read_only, transaction


@pytest.fixture
def app(tmp_path):
    db = Database("notify", f"sqlite:///{tmp_path / 'notify.db'}", Base.metadata, Outbox, Inbox)
    Base.metadata.create_all(db.engine)
    app = Flask(__name__)
    app.extensions["titles.database"] = db
    yield app
    db.dispose()


def _subjects(app: Flask) -> list[str]:
    with app.extensions["titles.database"].uow(readonly=True) as uow:
        return list(uow.session.scalars(select(Contact.subject).order_by(Contact.subject)))


def test_a_transaction_commits_what_the_view_wrote_when_it_returns(app):
    @transaction
    def view(subject: str, *, uow):
        uow.session.add(Contact(subject=subject))
        return subject

    with app.test_request_context():
        assert view("alice") == "alice"
    assert _subjects(app) == ["alice"]


def test_a_view_that_raises_leaves_nothing_written(app):
    @transaction
    def view(*, uow):
        uow.session.add(Contact(subject="bob"))
        uow.session.flush()
        raise RuntimeError("a rule broke after the write")

    with app.test_request_context(), pytest.raises(RuntimeError):
        view()
    assert _subjects(app) == []


def test_a_read_only_view_commits_nothing(app):
    @read_only
    def view(*, uow):
        uow.session.add(Contact(subject="carol"))
        uow.session.flush()
        return "read"

    with app.test_request_context():
        assert view() == "read"
    assert _subjects(app) == []


def test_paged_gives_one_page_in_order_and_the_total(app):
    @transaction
    def seed(*, uow):
        uow.session.add_all(Contact(subject=f"s{i:02}") for i in range(7))

    with app.test_request_context():
        seed()
    with app.extensions["titles.database"].uow(readonly=True) as uow:
        query = select(Contact).order_by(Contact.subject.desc())
        items, total = paged(uow, query, 2, 3)
        assert total == 7
        assert [c.subject for c in items] == ["s03", "s02", "s01"]
        assert paged(uow, query, 3, 3)[0][0].subject == "s00"
        assert paged(uow, query, 3, 3)[1] == 7  # the last page says the total itself
        assert paged(uow, query, 4, 3) == ([], 7)  # past the end: counted
        assert paged(uow, query, 1, 7)[1] == 7  # a full page may not be the last: counted
        assert paged(uow, query.where(Contact.subject == "none"), 1, 3) == ([], 0)


def test_paged_counts_only_when_the_page_cannot_say_the_total(app):
    from sqlalchemy import event

    db = app.extensions["titles.database"]
    with db.uow() as uow:
        uow.session.add_all(Contact(subject=f"s{i:02}") for i in range(4))
        uow.commit()
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    query = select(Contact).order_by(Contact.subject)
    with db.uow(readonly=True) as uow:
        for page, per_page, counted in ((1, 10, False), (2, 3, False), (1, 4, True), (3, 3, True)):
            statements.clear()
            paged(uow, query, page, per_page)
            assert any("count(" in s.lower() for s in statements) is counted, (page, per_page)


def test_the_service_app_keeps_its_answer_for_a_plain_function_and_asks_flask_for_anything_else():
    from shared.web.app import ServiceFlask

    app = ServiceFlask(__name__)
    asked: list[object] = []
    real = Flask.ensure_sync

    def counted(self, func):  # noqa: ANN001, ANN202
        asked.append(func)
        return real(self, func)

    def plain() -> str:
        return "plain"

    class Holder:
        def method(self) -> str:
            return "method"

    holder = Holder()
    original, Flask.ensure_sync = Flask.ensure_sync, counted
    try:
        assert app.ensure_sync(plain) is plain and app.ensure_sync(plain) is plain
        assert app.ensure_sync(holder.method)() == "method" and app.ensure_sync(holder.method)() == "method"
    finally:
        Flask.ensure_sync = original
    assert asked.count(plain) == 1  # asked once, then kept
    assert len([f for f in asked if f is not plain]) == 2  # a bound method is asked about each time
