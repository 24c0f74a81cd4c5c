"""The catalogue (目录): evaluation modes, series with their level ladders, specialties,
the six categories, and where independent appointment is allowed. Seeded from
shared/demo/catalogue.json; the city title office manages it through the API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.declaration.models import CatalogueSeries, CatalogueTerm
from shared.errors import DomainError, NotFound
from shared.uow import UnitOfWork

LEVELS = ("员级", "助理级", "中级", "副高级", "正高级")


def terms(uow: UnitOfWork, kind: str) -> list[CatalogueTerm]:
    return list(
        uow.session.scalars(
            select(CatalogueTerm).where(CatalogueTerm.kind == kind).order_by(CatalogueTerm.position, CatalogueTerm.code)
        )
    )


def all_series(uow: UnitOfWork) -> list[CatalogueSeries]:
    return list(uow.session.scalars(select(CatalogueSeries).order_by(CatalogueSeries.position, CatalogueSeries.name)))


def whole(uow: UnitOfWork) -> dict[str, Any]:
    return {"modes": terms(uow, "mode"), "categories": terms(uow, "category"), "series": all_series(uow)}


def series(uow: UnitOfWork, name: str, field: str = "series") -> CatalogueSeries:
    found = uow.session.get(CatalogueSeries, name)
    if found is None:
        raise DomainError.on(field, "in_catalogue", f"series {name} is not in the catalogue (系列不在目录中)")
    return found


def save_term(uow: UnitOfWork, kind: str, code: str, name: str, position: int = 0) -> CatalogueTerm:
    found = uow.session.get(CatalogueTerm, (kind, code))
    if found is None:
        found = CatalogueTerm(kind=kind, code=code)
        uow.session.add(found)
    found.name, found.position = name, position
    return found


def save_series(uow: UnitOfWork, fields: dict[str, Any]) -> CatalogueSeries:
    """Create or replace one series, after checking that its ladder and appointments hold together."""
    levels = [entry["level"] for entry in fields["levels"]]
    for level in levels:
        if level not in LEVELS:
            raise DomainError.on("levels", "known_level", f"level {level} is not one of {', '.join(LEVELS)} (层级)")
    if len(set(levels)) != len(levels):
        raise DomainError.on("levels", "unique", "each level appears once in a ladder (层级重复)")
    if [LEVELS.index(level) for level in levels] != sorted(LEVELS.index(level) for level in levels):
        raise DomainError.on("levels", "ladder_order", "levels go from the lowest up (层级须由低到高)")
    for entry in fields.get("appointable", []):
        if entry["level"] not in levels:
            raise DomainError.on(
                "appointable",
                "known_level",
                f"appointable level {entry['level']} is not in the ladder (可聘任层级不在本系列)",
            )
        unknown = [s for s in entry["specialties"] if s != "*" and s not in fields["specialties"]]
        if unknown:
            raise DomainError.on(
                "appointable",
                "known_specialty",
                f"appointable specialties not in the series: {', '.join(unknown)} (专业不在本系列)",
            )
    found = uow.session.get(CatalogueSeries, fields["name"])
    if found is None:
        found = CatalogueSeries(name=fields["name"])
        uow.session.add(found)
    for key in ("code", "levels", "specialties", "appointable", "position"):
        if key in fields:
            setattr(found, key, fields[key])
    found.appointable = found.appointable or []
    uow.session.flush()
    return found


def delete_series(uow: UnitOfWork, name: str) -> None:
    found = uow.session.get(CatalogueSeries, name)
    if found is None:
        raise NotFound.on("name", "exists", f"series {name} is not in the catalogue (系列不在目录中)")
    uow.session.delete(found)


def qualification_names(entry: CatalogueSeries, level: str) -> list[str]:
    return next((lv["qualification_names"] for lv in entry.levels if lv["level"] == level), [])


def check_choice(
    uow: UnitOfWork, series_name: str, level: str, specialty: str, qualification_name: str, field_prefix: str = ""
) -> CatalogueSeries:
    """The series, level, specialty and qualification name agree with the catalogue."""
    entry = series(uow, series_name, field_prefix + "series")
    if level not in [lv["level"] for lv in entry.levels]:
        raise DomainError.on(
            field_prefix + "level", "in_catalogue", f"level {level} is not in the {series_name} ladder (层级不在本系列)"
        )
    if specialty not in entry.specialties:
        raise DomainError.on(
            field_prefix + "specialty",
            "in_catalogue",
            f"specialty {specialty} is not in the {series_name} series (专业不在本系列)",
        )
    if qualification_name not in qualification_names(entry, level):
        other = next((lv["level"] for lv in entry.levels if qualification_name in lv["qualification_names"]), None)
        if other is not None:  # a name of the series, but of another level: the pair does not hold together
            raise DomainError.on(
                field_prefix + "qualification_name",
                "matches_level",
                f"{qualification_name} is a qualification name of level {other}, not of the "
                f"declared level {level} in the {series_name} series (资格名称与申报层级不符)",
            )
        raise DomainError.on(
            field_prefix + "qualification_name",
            "in_catalogue",
            f"{qualification_name} is not a qualification name of {series_name} {level} (资格名称不在目录中)",
        )
    return entry


def appointable(entry: CatalogueSeries, level: str, specialty: str) -> bool:
    return any(
        a["level"] == level and ("*" in a["specialties"] or specialty in a["specialties"])
        for a in entry.appointable or []
    )


def seed(uow: UnitOfWork, data: dict[str, Any]) -> None:
    """Load the catalogue file; entries already present are left as the title office keeps them."""
    for kind, key in (("mode", "modes"), ("category", "categories")):
        for position, term in enumerate(data[key]):
            if uow.session.get(CatalogueTerm, (kind, term["code"])) is None:
                save_term(uow, kind, term["code"], term["name"], position)
    for position, entry in enumerate(data["series"]):
        if uow.session.get(CatalogueSeries, entry["name"]) is None:
            save_series(uow, {**entry, "position": position})
