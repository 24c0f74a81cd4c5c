"""The services' ORM session: a load by primary key runs a SELECT built once per model.

``Session.get`` builds a new SELECT for every object it has to fetch, and SQLAlchemy then walks that
new statement (with its loader options) to find the compiled form in its cache. That is about a third
of a load by key, and the services load some 190 objects by key in a social-review lifecycle
(``bench/orm_get.py`` measures both ways). ``KeyedSession.get`` keeps one statement per model and
loader options, the key as bound parameters, and runs it as ``Session.get`` runs its own: the identity
map first, then one SELECT after an autoflush, one object or None.

A load without options, of a model one row makes whole (``_plan``), of an object the session does not hold,
reads that row in Core and makes the object from it (``as_loaded``): the ORM's execution and loading of one
row cost more than the SELECT itself (``bench/orm_get.py``). ``with_for_update=True`` puts the lock in that
statement (a task claimed, an instance's incident).

``with_for_update=True`` and ``populate_existing=True`` of an object the session holds (a row read again under
its lock: the profile's changes) always run the ORM's SELECT, as ``Session.get`` does; the lock is part of the
statement kept, the refresh an execution option.

What the shortcut does not cover goes to ``Session.get`` itself, unchanged: a key whose object is
already in the identity map (so expired, deleted and mismatched objects behave as they always did) when
neither of those is asked, a lock given as a dict of its own (``nowait``, ``skip_locked``...), an identity
token, execution options or bind arguments, a key given as a dict or with a None in it, a mapper that
always refreshes, and options the cache has no room for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Select, and_, bindparam, inspect, select
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached

_O = TypeVar("_O")

# Statements by (mapper, loader options). Options hash by identity, so a caller that builds new options
# for each load would fill it: past this many, such loads take Session.get's way.
_MOST = 256
_statements: dict[tuple[Mapper[Any], tuple[Any, ...], bool], tuple[Select[Any], tuple[str, ...]]] = {}
_REFRESH = {"populate_existing": True}


def _by_key(mapper: Mapper[Any]) -> tuple[Any, tuple[str, ...]]:
    """The criteria naming one row by its primary key, and the key's bound parameters (pk_0, pk_1...)."""
    names = tuple(f"pk_{i}" for i in range(len(mapper.primary_key)))
    return and_(*(column == bindparam(name) for column, name in zip(mapper.primary_key, names, strict=True))), names


def _statement(
    mapper: Mapper[Any], options: tuple[Any, ...], lock: bool = False
) -> tuple[Select[Any], tuple[str, ...]] | None:
    cached = _statements.get((mapper, options, lock))
    if cached is not None:
        return cached
    if len(_statements) >= _MOST:
        return None
    criteria, names = _by_key(mapper)
    statement = select(mapper).where(criteria)
    if options:
        statement = statement.options(*options)
    if lock:
        statement = statement.with_for_update()
    # Two threads building the same statement at once both get one that works; the first kept is shared.
    return _statements.setdefault((mapper, options, lock), (statement, names))


class KeyedSession(Session):
    def get(  # type: ignore[override]  # the same call as Session.get: its other keywords go to it
        self, entity: type[_O], ident: Any, *, options: Sequence[Any] | None = None, **others: Any
    ) -> _O | None:
        mapper = inspect(entity, raiseerr=False)
        lock = others.get("with_for_update")
        lock = False if lock is None else lock
        refresh = bool(others.get("populate_existing"))
        if (
            others.keys() - {"with_for_update", "populate_existing"}
            or not isinstance(lock, bool)  # a dict, even an empty one, is a lock of its own (Session.get's way)
            or self.execution_options
            or not isinstance(mapper, Mapper)
            or mapper.always_refresh
        ):
            return super().get(entity, ident, options=options, **others)
        key = tuple(ident) if isinstance(ident, (tuple, list)) else (ident,)
        if len(key) != len(mapper.primary_key) or None in key:
            return super().get(entity, ident, options=options, **others)
        held = mapper.identity_key_from_primary_key(key) in self.identity_map
        if held and not (lock or refresh):
            return super().get(entity, ident, options=options)
        if not held and not options:
            # Nothing to refresh: a load under a lock reads the row in Core as well, the lock in its statement.
            plan = _plan(mapper)
            if plan is not None:
                return self._made_from_row(entity, mapper, plan, key, ident, lock, others)
        found = _statement(mapper, tuple(options or ()), lock)
        if found is None:
            return super().get(entity, ident, options=options, **others)
        statement, names = found
        params = dict(zip(names, key, strict=True))
        result = (
            self.execute(statement, params, execution_options=_REFRESH) if refresh else self.execute(statement, params)
        )
        return result.unique().scalars().one_or_none()

    def _made_from_row(
        self,
        entity: type[_O],
        mapper: Mapper[Any],
        plan: _Plan,
        key: tuple[Any, ...],
        ident: Any,
        lock: bool,
        others: dict[str, Any],
    ) -> _O | None:
        # As Session.get: the pending changes flushed first, then the identity map asked again (the flush may
        # have made the object persistent: then as Session.get, the lock and the refresh as asked), then the row.
        if self.autoflush:
            self._autoflush()
        if mapper.identity_key_from_primary_key(key) in self.identity_map:
            return super().get(entity, ident, **others)
        row = (
            self.connection(bind_arguments={"mapper": mapper})
            .execute(plan.locked if lock else plan.statement, dict(zip(plan.names, key, strict=True)))
            .first()
        )
        return None if row is None else as_loaded(self, entity, row._asdict())


class _Plan(NamedTuple):
    statement: Select[Any]  # the mapped columns, labelled by their attributes' names, by bound key
    names: tuple[str, ...]  # the key's bound parameters
    locked: Select[Any]  # the same, FOR UPDATE


_plans: dict[Mapper[Any], _Plan | None] = {}
_EAGER = {"joined", "selectin", "subquery", "immediate"}


def _plan(mapper: Mapper[Any]) -> _Plan | None:
    """The Core load of a model whose objects a row makes whole (``as_loaded``): one table, plain columns of
    it (none deferred, no SQL expression), no eager relationships, no ``load``/``refresh`` listeners (which
    mutable types and reconstructors use); None for any other."""
    try:
        return _plans[mapper]
    except KeyError:
        pass
    plain = (
        mapper.inherits is None
        and mapper.polymorphic_on is None
        and not mapper.class_manager.dispatch.load
        and not mapper.class_manager.dispatch.refresh
        and all(
            len(prop.columns) == 1
            and not prop.deferred
            and getattr(prop.columns[0], "table", None) is mapper.local_table
            for prop in mapper.column_attrs
        )
        and not any(relationship.lazy in _EAGER for relationship in mapper.relationships)
        and len(mapper.tables) == 1
    )
    plan = None
    if plain:
        criteria, names = _by_key(mapper)
        columns = [prop.columns[0].label(prop.key) for prop in mapper.column_attrs]
        statement = select(*columns).where(criteria)
        plan = _Plan(statement, names, statement.with_for_update())
    return _plans.setdefault(mapper, plan)


def as_loaded(session: Session, entity: type[_O], values: dict[str, Any]) -> _O:
    """The object a query would have loaded from a row with these column values, made persistent in
    ``session`` without a statement: for rows read in Core (several models' columns in one row, say),
    where the ORM's loading of the row cost more than the statement. ``values`` names every column.
    The session must not hold the object already (a load would refresh that one; the caller does)."""
    mapper = inspect(entity)
    made: _O = mapper.class_manager.new_instance()  # as a load makes it: no __init__, no attribute events
    made.__dict__.update(values)  # where a load puts the row's values
    make_transient_to_detached(made)  # they read as loaded, none pending; its identity from its key
    session.add(made)
    return made
