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

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from tests.e2e.system import ROOT, system_environment

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason="Debian's Chromium is not installed (.ci/run installs it: apt-get install "
                                       "chromium); Playwright cannot download a browser here")
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def system(tmp_path_factory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("console")
    with system_environment(base / "data") as env:
        titles = str(Path(sys.executable).with_name("titles"))
        process = subprocess.Popen([titles, "run"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, start_new_session=True)
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)  # the scenario's client and the review's database read the same settings
        try:
            scenario = subprocess.run([titles, "scenario", "--timeout", "90"], env=env, cwd=ROOT,
                                      capture_output=True, text=True, timeout=300)
            assert scenario.returncode == 0, scenario.stdout + scenario.stderr
            number = scenario.stdout.strip().splitlines()[-1].removeprefix("certificate: ")
            from scenario.client import Client
            from scenario.declaration_steps import submit_declaration

            client = Client()
            declaration_id = submit_declaration(client, lambda _: None)
            yield {"env": env, "client": client, "declaration_id": declaration_id, "certificate": number,
                   "console": f"http://127.0.0.1:{env['CONSOLE_PORT']}", "shots": _shots(base)}
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
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
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox", "--disable-dev-shm-usage"])
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
        "completed", "approve", "材料齐全，同意推荐", "unit")


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
    from services.review import bootstrap as review
    from services.review.engine import incidents
    from services.review.engine.incidents import Step, StepFailed

    declaration_id = system["declaration_id"]
    [task] = system["client"].call("unit", "GET", "review", "/api/v1/tasks",
                                   params={"declaration_id": declaration_id})["items"]
    decision = task["decisions"][0]
    db = review.database()
    try:
        incident_id = incidents.record_apart(db, StepFailed(
            Step("task", actor="unit", element=task["stage"], task_id=task["id"], decision=decision,
                 replay={"actor": "unit", "decision": decision, "reason": "重试前的决定"}),
            None, declaration_id, task["stage"], "OperationalError: the database went away"))
    finally:
        db.dispose()
    sign_in(system, page, "title_office")
    page.click("#nav-incidents")
    row = page.locator(f"tr[data-incident='{incident_id}']")
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
