"""The services' session loads by key as Session.get does, with a SELECT built once (shared/session.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import JSON, ForeignKey, String, event, inspect, text
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.ext.mutable import MutableDict
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    column_property,
    defer,
    mapped_column,
    relationship,
    sessionmaker,
)

from shared import db
from shared import session as keyed


class Base(DeclarativeBase):
    pass


class Person(Base):
    __tablename__ = "people"
    id: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    notes: Mapped[str | None] = mapped_column(String(200))


class Membership(Base):
    __tablename__ = "memberships"
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), primary_key=True)
    organisation: Mapped[str] = mapped_column(String(20), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))


QUIET = (defer(Person.notes, raiseload=True),)


@pytest.fixture
def engine(tmp_path: Path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 's.db'}")
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO people VALUES ('p1', 'Li Lei', 'n1'), ('p2', 'Han Meimei', 'n2')"))
        conn.execute(text("INSERT INTO memberships VALUES ('p1', 'unit-a', 'staff'), ('p1', 'unit-b', 'chair')"))
    yield engine
    engine.dispose()


@pytest.fixture(params=["keyed", "plain"])
def sessions(request, engine):
    """Both sessions: every behaviour below holds for Session.get and for the keyed session alike."""
    kind = keyed.KeyedSession if request.param == "keyed" else Session
    return sessionmaker(engine, class_=kind, expire_on_commit=False)


def selects(engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]) if a[2].startswith("SELECT") else None)
    return seen


def test_an_object_is_loaded_by_its_key_with_one_select_and_again_from_the_identity_map(sessions, engine):
    seen = selects(engine)
    with sessions() as session:
        first = session.get(Person, "p1")
        assert (first.id, first.name) == ("p1", "Li Lei")
        assert session.get(Person, "p1") is first
        assert session.get(Person, "missing") is None
    assert len(seen) == 2  # p1 once, the missing key once


def test_loader_options_hold_and_a_load_without_them_is_a_different_statement(sessions):
    with sessions() as session:
        quiet = session.get(Person, "p1", options=QUIET)
        with pytest.raises(InvalidRequestError):
            _ = quiet.notes
        assert session.get(Person, "p2").notes == "n2"


def test_a_composite_key_given_as_a_tuple_a_list_or_a_dict(sessions):
    with sessions() as session:
        staff = session.get(Membership, ("p1", "unit-a"))
        assert staff.role == "staff"
        assert session.get(Membership, ["p1", "unit-b"]).role == "chair"
        assert session.get(Membership, {"person_id": "p1", "organisation": "unit-a"}) is staff
        assert session.get(Membership, ("p1", "unit-c")) is None
        with pytest.raises(InvalidRequestError):
            session.get(Membership, "p1")


def test_an_object_added_but_not_flushed_is_found_after_the_autoflush(sessions):
    with sessions() as session:
        added = Person(id="p3", name="Wang Fang")
        session.add(added)
        assert session.get(Person, "p3") is added


def test_populate_existing_and_for_update_read_the_row_again(sessions, engine):
    with sessions() as session:
        person = session.get(Person, "p2")
        session.connection().execute(text("UPDATE people SET name = 'Han Mei' WHERE id = 'p2'"))
        assert session.get(Person, "p2").name == "Han Meimei"  # from the identity map
        assert session.get(Person, "p2", populate_existing=True).name == "Han Mei"
        assert session.get(Person, "p2", with_for_update=True) is person


def test_an_object_deleted_in_the_session_is_gone_after_the_flush(sessions):
    with sessions() as session:
        session.delete(session.get(Person, "p2"))
        session.flush()
        assert session.get(Person, "p2") is None


def test_the_keyed_session_builds_a_statement_once_per_model_and_options(engine, monkeypatch):
    monkeypatch.setattr(keyed, "_statements", {})
    monkeypatch.setattr(keyed, "_plans", {})
    sessions = sessionmaker(engine, class_=keyed.KeyedSession, expire_on_commit=False)
    with sessions() as session:
        for key in ("p1", "p2", "p1", "absent"):
            session.expunge_all()
            session.get(Person, key)
            session.get(Person, key, options=QUIET)
    # A load without options reads the row in Core (below); with options, by the ORM statement kept.
    assert sorted(options for (_, options, _) in keyed._statements) == [QUIET]
    assert list(keyed._plans) == [Person.__mapper__]


class Filed(Base):
    """Columns whose values the database's types convert on the way out (a JSON document, an aware instant)."""

    __tablename__ = "filed"
    id: Mapped[int] = mapped_column(primary_key=True)
    document: Mapped[dict] = mapped_column(JSON)
    at: Mapped[dt.datetime] = mapped_column(db.UtcDateTime)
    label: Mapped[str] = mapped_column("label_text", String(20))  # an attribute named apart from its column


class Tracked(Base):
    __tablename__ = "tracked"
    id: Mapped[int] = mapped_column(primary_key=True)
    document: Mapped[dict] = mapped_column(MutableDict.as_mutable(JSON))  # wraps the value when loaded


class Lazy(Base):
    __tablename__ = "lazy"
    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(String(20), deferred=True)


class Summed(Base):
    __tablename__ = "summed"
    id: Mapped[int] = mapped_column(primary_key=True)
    a: Mapped[int] = mapped_column()
    b: Mapped[int] = mapped_column()
    total = column_property(a + b)  # a SQL expression, not a column of the table


class Eager(Base):
    __tablename__ = "eager"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"))
    person: Mapped[Person] = relationship(lazy="joined")


def test_a_load_without_options_reads_the_row_in_core_and_makes_the_object_a_query_would(engine):
    """One SELECT of the model's columns; the object equals Session.get's, value for value, persistent and
    clean, and a change to it is one UPDATE."""
    Base.metadata.create_all(engine)
    at = dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC)
    with engine.begin() as conn:
        conn.execute(Filed.__table__.insert(), {"id": 1, "document": {"a": [1, "二"]}, "at": at, "label_text": "x"})
    names = ("id", "document", "at", "label")
    with Session(engine) as plain:
        loaded = plain.get(Filed, 1)
        expected = {name: getattr(loaded, name) for name in names}
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with sessionmaker(engine, class_=keyed.KeyedSession)() as session:
        made = session.get(Filed, 1)
        assert len(statements) == 1 and statements[0].startswith("SELECT") and "JOIN" not in statements[0]
        assert made in session and not session.dirty and inspect(made).persistent
        assert session.get(Filed, 1) is made and len(statements) == 1
        assert session.get(Filed, 2) is None
        assert {name: getattr(made, name) for name in names} == expected
        assert made.at.tzinfo is not None and made.document == {"a": [1, "二"]}
        made.label = "y"
        session.commit()
    assert [s for s in statements if s.startswith("UPDATE")] == ["UPDATE filed SET label_text=? WHERE filed.id = ?"]


@pytest.mark.parametrize(
    "model", [Tracked, Lazy, Eager, Summed], ids=["load listener", "deferred", "eager", "expression"]
)
def test_a_model_a_row_cannot_make_whole_is_loaded_by_the_orm_statement(engine, model, monkeypatch):
    monkeypatch.setattr(keyed, "_statements", {})
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        values = {
            Tracked: {"document": {"k": 1}},
            Lazy: {"body": "b"},
            Eager: {"person_id": "p1"},
            Summed: {"a": 2, "b": 3},
        }[model]
        conn.execute(model.__table__.insert(), {"id": 1, **values})
    assert keyed._plan(inspect(model)) is None
    with sessionmaker(engine, class_=keyed.KeyedSession)() as session:
        found = session.get(model, 1)
        assert found is not None and inspect(found).persistent
    assert [mapper for (mapper, _, _) in keyed._statements] == [inspect(model)]
    if model is Tracked:
        assert type(found.document) is MutableDict  # the listener ran: changes in place are tracked
    if model is Eager:
        assert "person" in inspect(found).dict  # loaded with the row, as the mapping asks
    if model is Summed:
        assert found.total == 5


def test_a_load_under_a_lock_runs_a_kept_statement_that_locks_and_reads_the_row_again(engine, monkeypatch):
    from sqlalchemy.dialects import postgresql

    monkeypatch.setattr(keyed, "_statements", {})
    seen = selects(engine)
    sessions = sessionmaker(engine, class_=keyed.KeyedSession, expire_on_commit=False)
    with sessions() as session:
        person = session.get(Person, "p2")
        session.connection().execute(text("UPDATE people SET name = 'Han Mei' WHERE id = 'p2'"))
        assert session.get(Person, "p2", with_for_update=True) is person
        assert person.name == "Han Meimei"  # locked, not refreshed: the loaded values stay
        assert session.get(Person, "p2", with_for_update=True, populate_existing=True).name == "Han Mei"
        assert session.get(Person, "absent", with_for_update=True) is None
    assert len(seen) == 4  # every load under the lock reads, even of an object in the identity map
    assert sorted((options, lock) for (_, options, lock) in keyed._statements) == [((), True)]
    locked = keyed._statements[(Person.__mapper__, (), True)][0]
    assert "FOR UPDATE" in str(locked.compile(dialect=postgresql.dialect()))


def test_a_load_under_a_lock_of_an_object_not_held_reads_the_row_in_core_with_the_lock(engine, monkeypatch):
    from sqlalchemy.dialects import postgresql

    monkeypatch.setattr(keyed, "_statements", {})
    monkeypatch.setattr(keyed, "_plans", {})
    seen = selects(engine)
    sessions = sessionmaker(engine, class_=keyed.KeyedSession, expire_on_commit=False)
    with sessions() as session:
        person = session.get(Person, "p2", with_for_update=True, populate_existing=True)
        assert (person.id, person.name) == ("p2", "Han Meimei") and person in session
        assert not session.dirty and session.get(Person, "p2") is person  # as loaded, and held from now on
        assert session.get(Person, "absent", with_for_update=True) is None
        session.add(Person(id="p9", name="Wang Fang"))  # pending: the autoflush writes it, then it is held
        assert session.get(Person, "p9", with_for_update=True).name == "Wang Fang"
    assert len(seen) == 3  # p2 once, absent, and p9 read again under its lock once the flush made it held
    assert keyed._statements == {}  # no ORM statement: p9, held once flushed, went Session.get's way, as before
    plan = keyed._plans[Person.__mapper__]
    assert "FOR UPDATE" in str(plan.locked.compile(dialect=postgresql.dialect()))
    assert "FOR UPDATE" not in str(plan.statement.compile(dialect=postgresql.dialect()))


def test_a_lock_with_options_of_its_own_takes_session_get_s_way(engine, monkeypatch):
    monkeypatch.setattr(keyed, "_statements", {})
    sessions = sessionmaker(engine, class_=keyed.KeyedSession, expire_on_commit=False)
    with sessions() as session:
        assert session.get(Person, "p1", with_for_update={"read": True}).name == "Li Lei"
        assert session.get(Person, "p2", with_for_update={}).name == "Han Meimei"  # FOR UPDATE, as given
    assert keyed._statements == {}


def test_past_the_cache_s_room_a_load_takes_session_get_s_way(engine, monkeypatch):
    monkeypatch.setattr(keyed, "_MOST", 0)
    monkeypatch.setattr(keyed, "_statements", {})
    sessions = sessionmaker(engine, class_=keyed.KeyedSession, expire_on_commit=False)
    with sessions() as session:
        assert session.get(Person, "p1", options=(defer(Person.notes),)).name == "Li Lei"
    assert keyed._statements == {}


def test_an_object_made_as_loaded_behaves_as_one_a_query_loaded(sessions, engine):
    """``as_loaded``: persistent and clean, found by key without a statement, and a change to it is written as
    a change to what was read (the old value in its history, one UPDATE of that column)."""
    updates: list[str] = []
    event.listen(
        engine, "before_cursor_execute", lambda *a: updates.append(a[2]) if a[2].startswith("UPDATE") else None
    )
    seen = selects(engine)
    with sessions() as session:
        person = keyed.as_loaded(session, Person, {"id": "p2", "name": "Han Meimei", "notes": "n2"})
        assert person in session and not session.dirty and not session.new
        assert session.get(Person, "p2") is person and seen == []
        person.name = "韩梅梅"
        assert inspect(person).attrs.name.history.deleted == ["Han Meimei"]
        session.commit()
    assert len(updates) == 1 and "notes" not in updates[0]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name, notes FROM people WHERE id = 'p2'")).one() == ("韩梅梅", "n2")


def test_an_object_the_session_holds_already_cannot_be_made_again(sessions):
    with sessions() as session:
        held = session.get(Person, "p1")
        with pytest.raises(InvalidRequestError):
            keyed.as_loaded(session, Person, {"id": "p1", "name": "Li Lei", "notes": "n1"})
        assert session.get(Person, "p1") is held
