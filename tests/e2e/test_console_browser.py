"""The web console in a real browser: Debian's Chromium, headless, driven by Playwright, against the
whole system started as processes (``titles run`` on free ports).

The system is started once for the module; ``titles scenario`` first carries one declaration to a
certificate, then a second declaration of the same applicant is submitted over HTTP, and the
browser takes it from there: a reviewer signs in and completes the unit check, the designer opens
its diagram, the title office retries an incident, the applicant downloads the certificate.
Screenshots of every page go to ``<tmp>/screenshots`` and, when TITLES_SCREENSHOTS names a folder,
there too.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from shared import config
from tests.e2e.system import ROOT, database_url, system_environment

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM),
    reason="Debian's Chromium is not installed (.ci/run installs it: apt-get install "
    "chromium); Playwright cannot download a browser here",
)
TIMEOUT_MS = 60_000  # a page of a system sharing a loaded machine (2 cores, several test runs) can be slow


@pytest.fixture(scope="module")
def system(tmp_path_factory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("console")
    with system_environment(base / "data") as env:
        titles = str(Path(sys.executable).with_name("titles"))
        process = subprocess.Popen(
            [titles, "run"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)  # the scenario's client and the review's database read the same settings
        config.from_environment()
        try:
            scenario = subprocess.run(
                [titles, "scenario", "--timeout", "90"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
            )
            assert scenario.returncode == 0, scenario.stdout + scenario.stderr
            number = scenario.stdout.strip().splitlines()[-1].removeprefix("certificate: ")
            from scenario.client import Client
            from scenario.declaration_steps import submit_declaration

            client = Client()
            declaration_id = submit_declaration(client, lambda _: None)
            yield {
                "env": env,
                "client": client,
                "declaration_id": declaration_id,
                "certificate": number,
                "console": f"http://127.0.0.1:{env['CONSOLE_PORT']}",
                "shots": _shots(base),
            }
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            config.from_environment()
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=60)


def _shots(base: Path) -> list[Path]:
    folders = [base / "screenshots"]
    if os.environ.get("TITLES_SCREENSHOTS"):
        folders.append(Path(os.environ["TITLES_SCREENSHOTS"]))
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    return folders


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser, system, request) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    yield opened
    # where the test ended, to look at when it failed
    shot(system, opened, f"last-{request.node.name}")
    context.close()


def shot(system: dict[str, Any], page: Any, name: str) -> None:
    for folder in system["shots"]:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def sign_in(system: dict[str, Any], page: Any, username: str) -> None:
    """From the console's first page through the identity provider's sign-in page and back."""
    page.goto(system["console"] + "/")
    page.click("#sign-in-main")
    page.wait_for_url(f"**:{system['env']['ISSUER_PORT']}/authorize?**")
    assert "code_challenge_method=S256" in page.url  # PKCE
    shot(system, page, f"signin-{username}")
    page.click(f"button[data-username='{username}']")
    page.wait_for_url(system["console"] + "/")
    assert username in page.inner_text("#who") or page.inner_text("#who")


def api(system: dict[str, Any], user: str, path: str, service: str = "review") -> Any:
    return system["client"].call(user, "GET", service, path)


def test_a_reviewer_signs_in_opens_the_queue_and_completes_the_unit_check(system, page):
    declaration_id = system["declaration_id"]
    sign_in(system, page, "unit")
    assert "王芳" in page.inner_text("#who")
    page.click("#nav-queue")
    page.fill("input[name=stage]", "unit_check")
    page.click("#queue-filters button[type=submit]")
    row = page.locator("#queue tr[data-stage='unit_check']").first
    shot(system, page, "queue")
    task_id = row.get_attribute("data-task")
    task = api(system, "unit", f"/api/v1/tasks/{task_id}")
    assert task["declaration_id"] == declaration_id
    row.locator("a.task-link").click()
    page.wait_for_selector("#task-name")
    assert "申报内容" in page.inner_text("main")
    page.click("#claim")
    assert page.inner_text("#claimed-by").strip() == "unit"
    page.check("input[name=decision][value=approve]")
    page.fill("textarea[name=reason]", "材料齐全，同意推荐")
    shot(system, page, "task")
    page.click("#complete")
    page.wait_for_selector(".flash.ok")
    shot(system, page, "queue-after")
    done = api(system, "unit", f"/api/v1/tasks/{task_id}")
    assert (done["status"], done["decision"], done["reason"], done["completed_by"]) == (
        "completed",
        "approve",
        "材料齐全，同意推荐",
        "unit",
    )


def test_the_designer_opens_the_diagram_and_the_active_task_is_coloured(system, page):
    declaration_id = system["declaration_id"]
    view = api(system, "designer", f"/api/v1/processes/{declaration_id}/view")
    assert view["active"], view
    sign_in(system, page, "designer")
    page.click("#nav-processes")
    page.click(f"#processes tr[data-declaration='{declaration_id}'] a.process-link")
    page.wait_for_selector("#canvas[data-rendered='true']")
    active = [e for e in view["active"] if page.locator(f"#canvas [data-element-id='{e}']").count()]
    assert active, f"none of the active elements {view['active']} is drawn"
    for element in active:
        shape = page.locator(f"#canvas g.djs-element.state-active[data-element-id='{element}']")
        assert shape.count() == 1, f"{element} is not marked active in the SVG"
        fill = shape.evaluate("g => getComputedStyle(g.querySelector('.djs-visual > :first-child')).fill")
        assert fill == "rgb(255, 241, 194)", fill  # the active colour, not bpmn-js's white
    for element in view["completed"][:5]:
        if page.locator(f"#canvas [data-element-id='{element}']").count():
            assert page.locator(f"#canvas g.state-done[data-element-id='{element}']").count() == 1
    assert page.locator("#audit li").count() == len(view["history"])
    shot(system, page, "diagram")


def test_an_incident_is_retried_from_the_page(system, page):
    """A step that failed (as a lost database would make it) is re-run from the incidents page."""
    from scenario.client import wait_for
    from services.review import bootstrap as review
    from services.review.engine import incidents
    from services.review.engine.incidents import Step, StepFailed

    declaration_id = system["declaration_id"]
    # the unit check completed by the first test leads on to the next task asynchronously
    [task] = wait_for(
        "the unit's next task",
        lambda: system["client"].call(
            "unit", "GET", "review", "/api/v1/tasks", params={"declaration_id": declaration_id}
        )["items"],
    )
    decision = task["decisions"][0]
    db = review.database(database_url(system["env"], "review"))
    try:
        incident_id = incidents.record_apart(
            db,
            StepFailed(
                Step(
                    "task",
                    actor="unit",
                    element=task["stage"],
                    task_id=task["id"],
                    decision=decision,
                    replay={"actor": "unit", "decision": decision, "reason": "重试前的决定"},
                ),
                None,
                declaration_id,
                task["stage"],
                "OperationalError: the database went away",
            ),
        )
    finally:
        db.dispose()
    sign_in(system, page, "title_office")
    page.click("#nav-incidents")
    row = page.locator(f"tr[data-incident='{incident_id}']")
    until(page, f"incident {incident_id}", lambda: row.count() > 0, lambda: page.click("#nav-incidents"))
    assert "the database went away" in row.inner_text()
    shot(system, page, "incidents")
    row.locator("button.retry").click()
    page.wait_for_selector(".flash.ok")
    page.goto(system["console"] + "/incidents?status=resolved")
    assert "resolved" in page.locator(f"tr[data-incident='{incident_id}'] .incident-status").inner_text()
    shot(system, page, "incident-retried")
    done = system["client"].call("unit", "GET", "review", f"/api/v1/tasks/{task['id']}")
    assert (done["status"], done["decision"]) == ("completed", decision)


def test_the_applicant_downloads_the_certificate(system, page):
    number = system["certificate"]
    sign_in(system, page, "applicant")
    page.goto(system["console"] + "/my/certificates")
    row = page.locator(f"#certificates tr[data-number='{number}']")
    assert "高级工程师" in row.inner_text()
    shot(system, page, "certificates")
    with page.expect_download() as download:
        row.locator("a.download").click()
    saved = download.value.path()
    assert Path(saved).read_bytes()[:5] == b"%PDF-"
    assert download.value.suggested_filename == f"{number}.pdf"
    page.goto(system["console"] + "/my/declarations")
    assert page.locator("#declarations tr[data-declaration]").count() >= 2
    shot(system, page, "my-declarations")
    page.goto(system["console"] + f"/declarations/{system['declaration_id']}")
    shot(system, page, "declaration")
    assert requests.get(system["console"] + "/health", timeout=5).json()["status"] == "ok"


# -- a whole declaration's life in the browser ----------------------------------------------------

PAGE_WAIT_S = 90  # the system is asynchronous: a task appears once the process has moved


@contextmanager
def signed_in_page(browser, system: dict[str, Any], username: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    try:
        sign_in(system, opened, username)
        yield opened
    finally:
        shot(system, opened, f"life-last-{username}")
        context.close()


def until(page: Any, what: str, found: Callable[[], bool], again: Callable[[], None]) -> None:
    """Look again (a link clicked once more) until the page shows what the process will bring."""
    deadline = time.monotonic() + PAGE_WAIT_S
    while not found():
        if time.monotonic() > deadline:
            raise AssertionError(f"the page never showed {what}: {page.url}")
        page.wait_for_timeout(500)
        again()


def open_task(system: dict[str, Any], page: Any, declaration_id: str, stage: str) -> None:
    row = f"#queue tr[data-declaration='{declaration_id}'][data-stage='{stage}']"
    page.click("#nav-queue")
    until(page, f"the {stage} task", lambda: page.locator(row).count() > 0, lambda: page.click("#nav-queue"))
    page.locator(row).first.locator("a.task-link").click()
    page.wait_for_selector("#task-name")
    if page.locator("#claim").count():
        page.click("#claim")
        page.wait_for_selector("#unclaim")


def decide(
    system: dict[str, Any], page: Any, declaration_id: str, stage: str, decision: str, reason: str | None = None
) -> None:
    open_task(system, page, declaration_id, stage)
    page.check(f"#decide input[name=decision][value={decision}]")
    if reason:
        page.fill("#decide textarea[name=reason]", reason)
    shot(system, page, f"life-{stage}-{decision}")
    page.click("#complete")
    page.wait_for_selector(".flash.ok")


def open_details(page: Any, selector: str) -> None:
    if not page.locator(selector).evaluate("d => d.open"):
        page.locator(f"{selector} > summary").click()


def upload(name: str, content: bytes, kind: str) -> dict[str, Any]:
    return {"name": name, "mimeType": kind, "buffer": content}


def saved(page: Any, button: str) -> None:
    page.click(button)
    page.wait_for_selector(".flash.ok")


def fill_profile(system: dict[str, Any], page: Any, years: range) -> None:
    """Everything the completeness check asks, typed into the profile's forms."""
    from scenario.profile_steps import DEMO_PDF, DEMO_PNG

    page.click("#nav-profile")
    assert page.locator("#completeness li").count() > 0  # a new profile misses things
    shot(system, page, "life-profile-empty")
    page.fill("#form-basic input[name=mobile]", "13900139000")
    page.set_input_files("#form-basic input[name=photo_id]", upload("photo.png", DEMO_PNG, "image/png"))
    saved(page, "#form-basic button[type=submit]")
    education = page.locator("#education-list tr[data-education]").first
    education.locator("select[name=degree]").select_option("bachelor")
    education.locator("input[name=before_work]").check()
    education.locator("button[type=submit]").click()
    page.wait_for_selector(".flash.ok")
    page.fill("#form-qualification input[name=specialty]", "软件工程")
    page.fill("#form-qualification input[name=first_professional_work_date]", "2012-07-15")
    page.fill("#form-qualification input[name='appointment.post']", "工程师")
    page.fill("#form-qualification input[name='appointment.appointed_on']", "2017-01-01")
    page.select_option("#form-qualification select[name='appointment.proof_kind']", "appointment_letter")
    page.set_input_files(
        "#form-qualification input[name='appointment.proof_ids']", upload("聘任文件.pdf", DEMO_PDF, "application/pdf")
    )
    saved(page, "#form-qualification button[type=submit]")
    open_details(page, "#work-experiences details")
    page.select_option("#form-work-experiences select[name=status]", "current")
    page.select_option("#form-work-experiences select[name=unit_code]", label="天津市示范科技有限公司")
    page.fill("#form-work-experiences input[name=start_date]", "2012-07-15")
    page.select_option("#form-work-experiences select[name=role]", "led")
    page.fill("#form-work-experiences textarea[name=main_work]", "负责软件系统的设计与研发")
    saved(page, "#form-work-experiences button[type=submit]")
    open_details(page, "#certificates details")
    page.select_option("#form-certificates select[name=kind]", "title")
    page.fill("#form-certificates input[name=name]", "工程师")
    page.select_option("#form-certificates select[name=level]", "中级")
    page.select_option("#form-certificates select[name=obtained_by]", "review")
    page.fill("#form-certificates input[name=issued_on]", "2016-07-01")
    page.fill("#form-certificates input[name=issuer]", "天津市人力资源和社会保障局")
    page.set_input_files(
        "#form-certificates input[name=attachment_id]", upload("职称证书.pdf", DEMO_PDF, "application/pdf")
    )
    saved(page, "#form-certificates button[type=submit]")
    for year in years:
        open_details(page, "#continuing-education details")
        page.fill("#form-continuing-education input[name=year]", str(year))
        page.fill("#form-continuing-education input[name=hours]", "96")
        page.fill("#form-continuing-education input[name=specialist_hours]", "64")
        saved(page, "#form-continuing-education button[type=submit]")
        open_details(page, "#annual-assessments details")
        page.fill("#form-annual-assessments input[name=year]", str(year))
        page.select_option("#form-annual-assessments select[name=result]", "competent")
        saved(page, "#form-annual-assessments button[type=submit]")
    assert page.locator("#go-declare").count() == 1, page.inner_text("#completeness")
    shot(system, page, "life-profile-complete")


def declare(system: dict[str, Any], page: Any) -> str:
    """A new declaration on the social-review activity, filled and submitted; returns its id."""
    page.click("#go-declare")
    activity = page.locator("section.activity").filter(has_text="社会化评审").first
    activity.locator("select[name=specialty]").select_option("软件工程")  # her current specialty
    activity.locator("select[name=category]").select_option("normal")
    shot(system, page, "life-new-declaration")
    activity.locator("button[type=submit]").click()
    page.wait_for_selector(".flash.ok")
    declaration_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    until(
        page,
        "the draft",
        lambda: page.locator("#eligibility").count() > 0,
        lambda: page.click("#refresh") if page.locator("#refresh").count() else page.reload(),
    )
    assert "符合申报条件" in page.inner_text("#eligible"), page.inner_text("#eligibility")
    page.fill("#form-material-work_summary textarea[name='fields.summary']", "任现职以来主持完成多个软件系统的研发。")
    saved(page, "#form-material-work_summary button[type=submit]")
    add_project(page, "城市职称评审系统", "项目负责人")
    shot(system, page, "life-draft-filled")
    submit(page)
    return declaration_id


def add_project(page: Any, title: str, role: str) -> None:
    open_details(page, "details[data-kind=project]")
    page.fill("#form-item-project input[name='fields.title']", title)
    page.fill("#form-item-project input[name='fields.role']", role)
    saved(page, "#form-item-project button[type=submit]")


def submit(page: Any) -> None:
    """Submit (or resubmit); a file uploaded a moment ago may still be on its way: submit again then."""
    page.click("#submit")
    until(
        page,
        "the submission",
        lambda: page.locator(".flash.ok").count() > 0,
        lambda: page.click("#submit") if page.locator("#submit").count() else page.reload(),
    )


def publicity(
    system: dict[str, Any], browser: Any, page: Any, declaration_id: str, stage: str, after: str, user: str
) -> None:
    """Start the publicity from its task; the title office sees its timer on the diagram and moves the
    test clock past it; the next task appears with nobody acting."""
    open_task(system, page, declaration_id, stage)
    page.click("#start-publicity button[type=submit]")
    page.wait_for_selector(".flash.ok")
    with signed_in_page(browser, system, "title_office") as office:
        office.click("#nav-processes")
        office.click(f"#processes tr[data-declaration='{declaration_id}'] a.process-link")
        office.wait_for_selector("#canvas[data-rendered='true']")
        timer = office.locator(f"#timers tr[data-element='{stage}_over']")
        assert timer.count() == 1, office.inner_text("#timers")  # the publicity's end, with its due time
        assert office.locator("#canvas .timer-due").count() >= 1  # and beside its event on the diagram
        shot(system, office, f"life-timer-{stage}")
        advance(system, office, 15)
    open_task(system, page, declaration_id, after)


def advance(system: dict[str, Any], office: Any, days: int) -> None:
    office.click("#nav-clock")
    before = office.inner_text("#today")
    office.fill("#advance input[name=days]", str(days))
    office.click("#advance button[type=submit]")
    office.wait_for_selector(".flash.ok")
    assert office.inner_text("#today") > before
    shot(system, office, "life-clock")


def test_a_whole_declaration_from_the_profile_to_the_certificate_in_the_browser(system, browser):
    """李娜 fills her profile and a declaration and submits it; the unit returns it, she amends and
    resubmits; every reviewer does their step; she downloads the certificate. Nothing but the console's
    first page is typed, and no token: links, buttons and forms only."""
    from scenario.client import system_today

    today = system_today(system["client"])
    years = range(today.year - 3, today.year)
    with signed_in_page(browser, system, "applicant2") as applicant:
        fill_profile(system, applicant, years)
        declaration_id = declare(system, applicant)
    with signed_in_page(browser, system, "unit") as unit:
        decide(system, unit, declaration_id, "unit_check", "return", "请补充论文或项目材料")
    reviewed(system, browser, declaration_id)


def reviewed(system: dict[str, Any], browser: Any, declaration_id: str) -> None:
    """From the unit's return to the certificate."""
    from scenario.client import system_today

    with signed_in_page(browser, system, "applicant2") as applicant:
        applicant.click("#nav-declarations")
        applicant.click(f"#declarations tr[data-declaration='{declaration_id}'] a")
        until(applicant, "the return", lambda: applicant.locator("#returned").count() > 0, applicant.reload)
        assert "请补充论文或项目材料" in applicant.inner_text("#returned")
        add_project(applicant, "职称申报材料核验平台", "技术负责人")
        shot(system, applicant, "life-amended")
        submit(applicant)
    with signed_in_page(browser, system, "unit") as unit:
        decide(system, unit, declaration_id, "unit_check", "approve", "材料齐全")
        decide(system, unit, declaration_id, "unit_recommendation", "recommend")
        publicity(system, browser, unit, declaration_id, "unit_publicity", "unit_recommend", "unit")
        decide(system, unit, declaration_id, "unit_recommend", "approve")
    for department in ("dept1", "dept2"):
        with signed_in_page(browser, system, department) as staff:
            decide(system, staff, declaration_id, "department_check", "approve")
    with signed_in_page(browser, system, "committee") as committee:
        decide(system, committee, declaration_id, "committee_acceptance", "approve")
        open_task(system, committee, declaration_id, "schedule_defence")
        experts = [e for e in committee.inner_text("#panel-experts").split("、") if e]
        assert len(experts) >= 3, experts
        at = system_today(system["client"]) + dt.timedelta(days=10)
        committee.fill("#defence input[name=at]", f"{at.isoformat()}T09:00")
        committee.fill("#defence input[name=place]", "天津市人才发展中心 3楼答辩室")
        shot(system, committee, "life-defence")
        committee.click("#defence button[type=submit]")
        committee.wait_for_selector(".flash.ok")
        with signed_in_page(browser, system, "title_office") as office:
            advance(system, office, 11)  # the meeting is recorded after its defence
        open_task(system, committee, declaration_id, "record_attendance")
        shot(system, committee, "life-attendance")
        committee.click("#attendance button[type=submit]")
        committee.wait_for_selector(".flash.ok")
    for expert in experts:
        with signed_in_page(browser, system, expert) as member:
            decide(system, member, declaration_id, "expert_vote", "agree")
    with signed_in_page(browser, system, "committee") as committee:
        open_task(system, committee, declaration_id, "result_publicity")
        assert committee.inner_text("#tally").count(str(len(experts))) >= 1
        committee.click("#nav-queue")
        publicity(system, browser, committee, declaration_id, "result_publicity", "report_results", "committee")
        committee.click("#nav-queue")
        decide(system, committee, declaration_id, "report_results", "approve")
    with signed_in_page(browser, system, "title_office") as office:
        decide(system, office, declaration_id, "title_office_filing", "approve")
    with signed_in_page(browser, system, "applicant2") as applicant:
        applicant.click("#nav-certificates")
        row = f"#certificates tr[data-declaration='{declaration_id}']"
        until(
            applicant,
            "the certificate",
            lambda: applicant.locator(row).count() > 0,
            lambda: applicant.click("#nav-certificates"),
        )
        assert "高级工程师" in applicant.inner_text(row)
        shot(system, applicant, "life-certificate")
        with applicant.expect_download() as download:
            applicant.locator(row).locator("a.download").click()
        assert Path(download.value.path()).read_bytes()[:5] == b"%PDF-"
        applicant.click("#nav-declarations")
        applicant.click(f"#declarations tr[data-declaration='{declaration_id}'] a")
        assert "title_office_filing" in applicant.inner_text("main") or "备案" in applicant.inner_text("main")
        shot(system, applicant, "life-declaration-done")
