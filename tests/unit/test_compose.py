"""Static checks of docker-compose.yml, deploy/Dockerfile and the Postgres init script.

There is no Docker engine where the tests run, so the deployment files are
kept correct by reading them: the compose file is parsed with
yaml.safe_load (anchors and `<<` merges resolved) and compose's
``${VAR:-default}`` interpolation is applied here with an empty environment,
i.e. the values a bare ``docker compose up`` would use.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from shared import config

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
GUNICORN_CONF = "deploy/gunicorn.conf.py"

SERVICES = ("profile", "declaration", "review", "certificate", "notify")
INFRA = ("postgres", "rabbitmq")
TITLES_SUBCOMMANDS = {"migrate", "deploy", "seed", "consume", "relay", "scheduler", "dispatch"}
DEMO_SERVICES = {"dev-issuer", "dev-tsa", "seed"}
ONE_SHOT = {"migrate", "seed"}
REQUIRED_APP_ENV = ("DATABASE_URL", "BROKER_URL", "OIDC_ISSUER", "OIDC_JWKS_URL", "OIDC_AUDIENCE")


# ------------------------------------------------------------------ helpers


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose variable interpolation: $$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, nested defaults."""
    env = env or {}
    out: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch != "$":
            out.append(ch)
            i += 1
            continue
        nxt = value[i + 1 : i + 2]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            # find the matching closing brace (defaults may nest ${...})
            depth, j = 1, i + 2
            while j < len(value) and depth:
                if value.startswith("${", j):
                    depth += 1
                    j += 2
                    continue
                if value[j] == "}":
                    depth -= 1
                j += 1
            assert depth == 0, f"unbalanced ${{...}} in {value!r}"
            body = value[i + 2 : j - 1]
            m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])(.*))?", body, re.S)
            assert m, f"unsupported interpolation ${{{body}}} in {value!r}"
            name, op, arg = m.group(1), m.group(2), m.group(3) or ""
            current = env.get(name)
            if op in (None,):
                out.append(current or "")
            elif op == ":-":
                out.append(current if current else interpolate(arg, env))
            elif op == "-":
                out.append(current if current is not None else interpolate(arg, env))
            else:
                raise AssertionError(f"${{{body}}} in {value!r}: use ${{VAR:-default}} so a bare `up` works")
            i = j
        else:
            m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", value[i + 1 :])
            assert m, f"stray '$' in {value!r} (write $$ for a literal dollar)"
            out.append(env.get(m.group(0), ""))
            i += 1 + len(m.group(0))
    return "".join(out)


def resolve(node: Any) -> Any:
    if isinstance(node, str):
        return interpolate(node)
    if isinstance(node, list):
        return [resolve(v) for v in node]
    if isinstance(node, dict):
        return {k: resolve(v) for k, v in node.items()}
    return node


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    assert COMPOSE_FILE.is_file(), f"{COMPOSE_FILE} is missing"
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), "compose file has no services: mapping"
    return data


@pytest.fixture(scope="module")
def compose(raw: dict[str, Any]) -> dict[str, Any]:
    return resolve(raw)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def app_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in services.items() if name not in INFRA}


def long_running(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in app_services(services).items() if name not in ONE_SHOT}


def env_of(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in env)
        return {k: v for k, v in pairs}
    return {k: "" if v is None else str(v) for k, v in env.items()}


def argv_of(command: Any) -> list[str]:
    if command is None:
        return []
    return list(map(str, command)) if isinstance(command, list) else shlex.split(command)


def command_lines(svc: dict[str, Any]) -> list[list[str]]:
    """Every simple command the container runs: `sh -c "a && b"` gives [a, b]."""
    argv = argv_of(svc.get("entrypoint")) + argv_of(svc.get("command"))
    if len(argv) >= 3 and Path(argv[0]).name in ("sh", "bash") and argv[1] == "-c":
        script = argv[2]
        return [shlex.split(part) for part in re.split(r"&&|\|\||;|\n", script) if part.strip()]
    return [argv] if argv else []


def titles_calls(svc: dict[str, Any]) -> list[list[str]]:
    calls = []
    for line in command_lines(svc):
        while line and line[0] == "exec":
            line = line[1:]
        if line and Path(line[0]).name == "titles":
            calls.append(line[1:])
    return calls


def gunicorn_target(svc: dict[str, Any]) -> str | None:
    for line in command_lines(svc):
        if line and Path(line[0]).name == "gunicorn":
            apps = [a for a in line[1:] if ":" in a and not a.startswith("-")]
            assert len(apps) == 1, f"gunicorn command {line} should name exactly one app"
            return apps[0]
    return None


def http_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in app_services(services).items() if gunicorn_target(s)}


def published(svc: dict[str, Any]) -> dict[int, int]:
    """container port -> host port."""
    result: dict[int, int] = {}
    for entry in svc.get("ports") or []:
        if isinstance(entry, dict):
            result[int(entry["target"])] = int(entry["published"])
            continue
        parts = str(entry).split("/")[0].split(":")
        assert len(parts) >= 2, f"port {entry!r} is not published to the host (write HOST:CONTAINER)"
        result[int(parts[-1])] = int(parts[-2])
    return result


def healthcheck_text(svc: dict[str, Any]) -> str:
    test = (svc.get("healthcheck") or {}).get("test")
    return " ".join(test) if isinstance(test, list) else str(test or "")


def depends(svc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    deps = svc.get("depends_on") or {}
    assert isinstance(deps, dict), f"depends_on must be the long form with conditions, got {deps!r}"
    return deps


# ------------------------------------------------------------------ services present


def test_every_process_has_a_service(services):
    expected = set(INFRA) | {"migrate", "review-scheduler", "notify-dispatcher", "console"} | DEMO_SERVICES
    for name in SERVICES:
        expected |= {name, f"{name}-consumer", f"{name}-relay"}
    missing = sorted(expected - set(services))
    assert not missing, f"docker-compose.yml lacks services: {missing}"
    unexpected = sorted(set(services) - expected)
    assert not unexpected, f"services this test does not know (add checks for them): {unexpected}"


def test_service_list_matches_the_code():
    assert tuple(config.SERVICES) == SERVICES, "shared.config.SERVICES changed: update compose and this test"


def test_interpolation_helper():
    assert interpolate("${A:-x${B:-y}z}") == "xyz"
    assert interpolate("${A:-x${B:-y}z}", {"B": "b"}) == "xbz"
    assert interpolate("${A:-d}", {"A": "a"}) == "a"
    assert interpolate("${A:-d}", {"A": ""}) == "d"
    assert interpolate("${A-d}", {"A": ""}) == ""
    assert interpolate("$$HOME/{service}") == "$HOME/{service}"


def test_every_value_interpolates(raw):
    resolve(raw)  # raises on malformed ${...}, ${VAR:?...} or a stray '$'


# ------------------------------------------------------------------ image and build


def test_application_services_share_one_image_built_from_deploy_dockerfile(services):
    images = set()
    for name, svc in app_services(services).items():
        build = svc.get("build")
        assert isinstance(build, dict), f"{name}: needs build: {{context: ., dockerfile: deploy/Dockerfile}}"
        assert build.get("context") in (".", "./"), f"{name}: build context must be '.', got {build.get('context')!r}"
        assert build.get("dockerfile") == "deploy/Dockerfile", f"{name}: dockerfile must be deploy/Dockerfile"
        images.add(svc.get("image"))
    assert len(images) == 1 and None not in images, f"application services must share one image name, got {images}"


def test_application_services_are_stopped_cleanly(services):
    for name, svc in app_services(services).items():
        assert svc.get("init") is True, f"{name}: set init: true so SIGTERM reaches the process (PID 1 ignores it)"


def test_restart_policies(services):
    for name in ONE_SHOT:
        assert str(services[name].get("restart")) == "no", f'{name} is one-shot: restart must be "no"'
    for name, svc in {**long_running(services), **{n: services[n] for n in INFRA}}.items():
        assert svc.get("restart") == "unless-stopped", f"{name}: restart must be unless-stopped"


# ------------------------------------------------------------------ environment


def test_application_services_have_the_common_environment(services):
    for name, svc in app_services(services).items():
        env = env_of(svc)
        missing = [k for k in REQUIRED_APP_ENV if not env.get(k)]
        assert not missing, f"{name}: environment lacks {missing}"
        assert env.get("TITLES_DATA_DIR"), f"{name}: TITLES_DATA_DIR must be set"
        assert env.get("PROMETHEUS_MULTIPROC_DIR"), f"{name}: PROMETHEUS_MULTIPROC_DIR must be set"
        assert "{service}" in env["DATABASE_URL"], f"{name}: DATABASE_URL must be the {{service}} pattern"
        assert env["DATABASE_URL"].startswith("postgresql+psycopg://"), f"{name}: DATABASE_URL must use psycopg 3"
        assert env["BROKER_URL"].startswith("amqp://"), f"{name}: BROKER_URL must be amqp://"


def test_the_test_clock_is_never_switched_on(services):
    """Production runs on real time: no service sets TITLES_TEST_CLOCK, not even through a default."""
    for name, svc in services.items():
        assert env_of(svc).get("TITLES_TEST_CLOCK", "") in ("", "0"), f"{name}: TITLES_TEST_CLOCK must not be on"
    assert "TITLES_TEST_CLOCK" not in COMPOSE_FILE.read_text(encoding="utf-8")


def test_every_process_names_its_service(services):
    for name, svc in app_services(services).items():
        if name in ONE_SHOT:
            continue
        assert env_of(svc).get("TITLES_SERVICE"), f"{name}: TITLES_SERVICE must be set"


def test_urls_point_at_the_compose_infrastructure(services):
    pg_env = env_of(services["postgres"])
    mq_env = env_of(services["rabbitmq"])
    for name, svc in app_services(services).items():
        env = env_of(svc)
        db = urlsplit(env["DATABASE_URL"])
        assert db.hostname == "postgres" and (db.port or 5432) == 5432, (
            f"{name}: DATABASE_URL host must be postgres:5432"
        )
        assert (db.username, db.password) == (pg_env["POSTGRES_USER"], pg_env["POSTGRES_PASSWORD"]), (
            f"{name}: DATABASE_URL credentials differ from postgres' POSTGRES_USER/POSTGRES_PASSWORD"
        )
        mq = urlsplit(env["BROKER_URL"])
        assert mq.hostname == "rabbitmq" and (mq.port or 5672) == 5672, f"{name}: BROKER_URL host must be rabbitmq:5672"
        assert (mq.username, mq.password) == (mq_env["RABBITMQ_DEFAULT_USER"], mq_env["RABBITMQ_DEFAULT_PASS"]), (
            f"{name}: BROKER_URL credentials differ from rabbitmq's RABBITMQ_DEFAULT_USER/PASS"
        )


def test_default_oidc_settings_point_at_the_dev_issuer(services):
    issuer_svc = services["dev-issuer"]
    issuer_env = env_of(issuer_svc)
    assert issuer_svc.get("profiles") == ["demo"], "dev-issuer must only run under the demo profile"
    issuer_port = int(issuer_env["PORT"])
    assert issuer_port == config.DEFAULT_PORTS["issuer"]
    for name, svc in app_services(services).items():
        env = env_of(svc)
        assert env["OIDC_ISSUER"] == issuer_env["OIDC_ISSUER"], (
            f"{name}: OIDC_ISSUER {env['OIDC_ISSUER']!r} differs from the dev issuer's {issuer_env['OIDC_ISSUER']!r};"
            " tokens would be rejected on `iss`"
        )
        jwks = urlsplit(env["OIDC_JWKS_URL"])
        assert (jwks.hostname, jwks.port, jwks.path) == ("dev-issuer", issuer_port, "/jwks.json"), (
            f"{name}: OIDC_JWKS_URL {env['OIDC_JWKS_URL']!r} must reach the dev issuer inside the compose network"
        )


def test_certificates_are_timestamped_by_the_dev_tsa_by_default(services):
    tsa = services["dev-tsa"]
    port = int(env_of(tsa)["PORT"])
    assert port == config.DEFAULT_PORTS["tsa"] and env_of(tsa)["TITLES_SERVICE"] == "tsa"
    for name, svc in app_services(services).items():
        env = env_of(svc)
        # The certificate service timestamps there, and the development PKI's CRL address is the same host.
        assert urlsplit(env["CERTIFICATE_TSA_URL"])[1:3] == ("dev-tsa:8007", "/tsa"), name
        assert env["TSA_URL"] == f"http://dev-tsa:{port}", name


def test_raw_file_lets_the_environment_override_secrets_and_urls(raw):
    env = raw["x-app-env"] if "x-app-env" in raw else None
    assert env, "the common environment should live in an x-app-env extension field"
    for key in ("DATABASE_URL", "BROKER_URL", "OIDC_ISSUER", "OIDC_JWKS_URL", "OIDC_AUDIENCE"):
        assert str(env[key]).startswith("${" + key + ":-"), f"{key} must be written ${{{key}:-default}}"
    pg = raw["services"]["postgres"]["environment"]
    assert str(pg["POSTGRES_PASSWORD"]).startswith("${POSTGRES_PASSWORD:-"), "POSTGRES_PASSWORD must be overridable"
    mq = raw["services"]["rabbitmq"]["environment"]
    assert str(mq["RABBITMQ_DEFAULT_PASS"]).startswith("${RABBITMQ_DEFAULT_PASS:-"), (
        "RABBITMQ_DEFAULT_PASS must be overridable"
    )


# ------------------------------------------------------------------ health checks and dependencies


def test_long_running_services_have_healthchecks(services):
    for name, svc in {**long_running(services), **{n: services[n] for n in INFRA}}.items():
        hc = svc.get("healthcheck")
        assert isinstance(hc, dict) and not hc.get("disable"), f"{name}: needs a healthcheck"
        test = hc.get("test")
        assert isinstance(test, list) and test and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, (
            f"{name}: healthcheck test must be [CMD, ...] or [CMD-SHELL, ...], got {test!r}"
        )
        if name not in INFRA:
            assert not re.search(r"\b(curl|wget)\b", healthcheck_text(svc)), (
                f"{name}: the python:slim image has neither curl nor wget"
            )


def test_infrastructure_healthchecks(services):
    assert "pg_isready" in healthcheck_text(services["postgres"]), "postgres healthcheck must use pg_isready"
    text = healthcheck_text(services["rabbitmq"])
    assert "rabbitmq-diagnostics" in text and re.search(r"\b(ping|check_port_connectivity|check_running)\b", text), (
        "rabbitmq healthcheck must use rabbitmq-diagnostics ping/check_port_connectivity"
    )


def test_http_services_check_their_own_port(services):
    https = http_services(services)
    assert set(https) == set(SERVICES) | {"dev-issuer", "dev-tsa", "console"}, f"gunicorn services: {sorted(https)}"
    for name, svc in https.items():
        env = env_of(svc)
        service = env["TITLES_SERVICE"]
        port = int(env.get("PORT", 0))
        assert port == config.DEFAULT_PORTS[service], f"{name}: PORT {port} != {config.DEFAULT_PORTS[service]}"
        assert env.get("HOST") == "0.0.0.0", f"{name}: HOST must be 0.0.0.0 to be reachable from outside"
        text = healthcheck_text(svc)
        assert f"http://127.0.0.1:{port}/health" in text or f"http://localhost:{port}/health" in text, (
            f"{name}: healthcheck must GET its own /health on port {port}: {text!r}"
        )
        assert published(svc).get(port) == port, f"{name}: must publish {port}:{port}, has {svc.get('ports')!r}"


def test_only_http_services_and_rabbitmq_publish_ports(services):
    https = http_services(services)
    for name, svc in app_services(services).items():
        if name not in https:
            assert not svc.get("ports"), f"{name} has no HTTP port and should publish none"
    rabbit = published(services["rabbitmq"])
    assert rabbit.get(5672) == 5672 and rabbit.get(15672) == 15672, "rabbitmq must publish 5672 and 15672"


def test_dependencies_use_conditions(services):
    expected = {
        "postgres": "service_healthy",
        "rabbitmq": "service_healthy",
        "migrate": "service_completed_successfully",
    }
    for name, svc in app_services(services).items():
        for dep, spec in depends(svc).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            cond = (spec or {}).get("condition")
            if dep in expected:
                assert cond == expected[dep], f"{name} -> {dep}: condition must be {expected[dep]}, got {cond}"
            if name not in DEMO_SERVICES:
                assert dep not in DEMO_SERVICES, f"{name} must not depend on demo-only {dep}"
    for name in long_running(services):
        if name in ("dev-issuer", "dev-tsa"):  # neither uses the database nor the broker
            continue
        missing = set(expected) - set(depends(services[name]))
        assert not missing, f"{name} must wait for {sorted(missing)}"
    assert depends(services["migrate"]).get("postgres", {}).get("condition") == "service_healthy"
    assert "migrate" not in depends(services["migrate"])
    assert depends(services["seed"]).get("migrate", {}).get("condition") == "service_completed_successfully"


def test_only_demo_services_use_profiles(services):
    for name, svc in services.items():
        if name in DEMO_SERVICES:
            assert svc.get("profiles") == ["demo"], f"{name} must be in the demo profile only"
        else:
            assert not svc.get("profiles"), f"{name} must run without a profile"


# ------------------------------------------------------------------ commands


def test_migrate_runs_migrations_then_deploys_bpmn(services):
    calls = [c[0] for c in titles_calls(services["migrate"]) if c]
    assert calls == ["migrate", "deploy"], f"migrate must run `titles migrate && titles deploy`, runs {calls}"
    argv = argv_of(services["migrate"].get("command"))
    assert argv[:2] == ["sh", "-c"] and "&&" in argv[2], 'migrate must be `sh -c "titles migrate && titles deploy"`'


def test_seed_runs_titles_seed(services):
    assert [c[:1] for c in titles_calls(services["seed"])] == [["seed"]]


def test_titles_commands_are_known(services):
    for name, svc in app_services(services).items():
        service = env_of(svc).get("TITLES_SERVICE")
        for call in titles_calls(svc):
            assert call, f"{name}: bare `titles`"
            sub, args = call[0], [a for a in call[1:] if not a.startswith("-")]
            assert sub in TITLES_SUBCOMMANDS, f"{name}: unknown sub-command `titles {sub}`"
            if sub in ("consume", "relay"):
                assert len(args) == 1 and args[0] in SERVICES, f"{name}: `titles {sub}` needs one service, got {args}"
                assert args[0] == service, f"{name}: runs `titles {sub} {args[0]}` but TITLES_SERVICE={service}"
            elif sub == "scheduler":
                assert service == "review", f"{name}: the scheduler belongs to the review service"
            elif sub == "dispatch":
                assert service == "notify", f"{name}: the dispatcher belongs to the notify service"
            elif sub == "migrate":
                unknown = [a for a in args if a not in SERVICES]
                assert not unknown, f"{name}: `titles migrate` of unknown services {unknown}"


def test_one_consumer_and_one_relay_per_service(services):
    for sub in ("consume", "relay"):
        seen: dict[str, str] = {}
        for name, svc in app_services(services).items():
            for call in titles_calls(svc):
                if call[0] == sub:
                    assert call[1] not in seen, f"`titles {sub} {call[1]}` runs in both {seen[call[1]]} and {name}"
                    seen[call[1]] = name
        assert set(seen) == set(SERVICES), f"`titles {sub}` missing for {sorted(set(SERVICES) - set(seen))}"
        for service, name in seen.items():
            suffix = "consumer" if sub == "consume" else "relay"
            assert name == f"{service}-{suffix}", (
                f"`titles {sub} {service}` should run in {service}-{suffix}, not {name}"
            )
    schedulers = [n for n, s in app_services(services).items() if any(c[0] == "scheduler" for c in titles_calls(s))]
    assert schedulers == ["review-scheduler"], f"`titles scheduler` runs in {schedulers}"


def test_gunicorn_commands_match_their_service(services):
    assert (ROOT / GUNICORN_CONF).is_file(), f"{GUNICORN_CONF} is missing"
    for name, svc in http_services(services).items():
        argv = command_lines(svc)[0]
        assert argv[argv.index("-c") + 1] == GUNICORN_CONF, f"{name}: gunicorn must use -c {GUNICORN_CONF}"
        service = env_of(svc).get("TITLES_SERVICE")
        target = gunicorn_target(svc)
        if service == "issuer":
            assert target == "shared.identity.dev_issuer:create_app()", f"{name}: runs {target}"
        elif service == "tsa":
            assert target == "services.certificate.dev_tsa:create_app()", f"{name}: runs {target}"
        else:
            assert service in (*SERVICES, "console"), f"{name}: TITLES_SERVICE={service!r} is not a service"
            assert target == f"services.{service}.bootstrap:create_app()", (
                f"{name}: gunicorn runs {target!r} but TITLES_SERVICE={service}"
            )
            assert name == service, f"the HTTP container of {service} should be named {service}, not {name}"


# ------------------------------------------------------------------ infrastructure


def test_postgres_and_its_init_script(services):
    pg = services["postgres"]
    assert re.fullmatch(r"postgres:15(\.\d+)?(-[\w.]+)?", pg["image"]), (
        f"postgres image must be postgres:15, got {pg['image']}"
    )
    env = env_of(pg)
    assert env.get("POSTGRES_USER") and env.get("POSTGRES_PASSWORD"), (
        "postgres needs POSTGRES_USER and POSTGRES_PASSWORD"
    )
    volumes = [str(v) for v in pg.get("volumes") or []]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in volumes), "postgres data must be on a volume"
    inits = [v for v in volumes if ":/docker-entrypoint-initdb.d" in v]
    assert inits, "an init script must be mounted into /docker-entrypoint-initdb.d"
    source = ROOT / inits[0].split(":")[0]
    assert source.exists(), f"init script {source} is missing"


def init_sql() -> str:
    path = ROOT / "deploy" / "postgres"
    texts = [p.read_text(encoding="utf-8") for p in sorted(path.iterdir()) if p.suffix in (".sql", ".sh")]
    assert texts, f"no init script in {path}"
    return "\n".join(texts)


def test_init_script_creates_each_services_database(services):
    created = {m.lower() for m in re.findall(r"CREATE\s+DATABASE\s+\"?(\w+)\"?", init_sql(), re.I)}
    pattern = env_of(services["migrate"])["DATABASE_URL"]
    for service in SERVICES:
        db_name = urlsplit(pattern.replace("{service}", service)).path.lstrip("/")
        assert db_name in created, (
            f"DATABASE_URL gives database {db_name!r} for {service}, which the init script does not create ({sorted(created)})"
        )
    assert len(created) == len(SERVICES), f"init script creates {sorted(created)}"


def test_postgres_healthcheck_waits_for_the_init_script(services):
    text = healthcheck_text(services["postgres"])
    assert re.search(r"-h\s+(127\.0\.0\.1|localhost)", text), (
        "pg_isready must use TCP (-h 127.0.0.1): during init the server listens on the socket only"
    )


def test_rabbitmq(services):
    mq = services["rabbitmq"]
    assert re.fullmatch(r"rabbitmq:3\.\d+(\.\d+)?-management(-alpine)?", mq["image"]), (
        f"rabbitmq image must be a 3.x management image, got {mq['image']}"
    )
    env = env_of(mq)
    assert env.get("RABBITMQ_DEFAULT_USER") and env.get("RABBITMQ_DEFAULT_PASS")
    assert any(str(v).endswith(":/var/lib/rabbitmq") for v in mq.get("volumes") or []), (
        "rabbitmq data must be on a volume"
    )
    assert mq.get("hostname"), "rabbitmq needs a fixed hostname: its data directory is named after the node"


def test_named_volumes_are_declared(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, svc in services.items():
        for v in svc.get("volumes") or []:
            source = v["source"] if isinstance(v, dict) else str(v).split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: bind mount {source} does not exist"
            else:
                assert source in declared, f"{name}: volume {source} is not declared under volumes:"


# ------------------------------------------------------------------ Dockerfile


def dockerfile_instructions() -> list[tuple[str, str]]:
    assert DOCKERFILE.is_file(), f"{DOCKERFILE} is missing"
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            result.append((op.upper(), rest.strip()))
    return result


def test_dockerfile():
    instructions = dockerfile_instructions()
    froms = [rest for op, rest in instructions if op == "FROM"]
    # the one node stage only fetches the console's browser libraries (npm ci) for the python stages
    python_stages = [f for f in froms if not f.endswith("AS assets")]
    assert all(f.split()[0].startswith("node:") for f in froms if f.endswith("AS assets"))
    assert python_stages and all(f.split()[0].startswith("python:3.11") for f in python_stages), (
        f"every stage must be FROM python:3.11*, got {froms}"
    )
    runs = " ".join(rest for op, rest in instructions if op == "RUN")
    assert re.search(r"pip (install|wheel)\b[^&]*\s\.(\s|$)", runs), (
        "the project must be built with pip from the copied source"
    )
    assert re.search(r"pip install\b", runs), "the project must be installed with pip install"
    assert re.search(r"pip install\b[^&]*-r \S*requirements\.lock\b", runs), "the dependencies come from the lock file"
    assert re.search(r"pip install\b[^&]*--no-deps\b[^&]*titles", runs), "the project adds no dependency to the lock's"
    users = [rest for op, rest in instructions if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), f"the image must end as a non-root USER, got {users}"
    workdirs = [rest for op, rest in instructions if op == "WORKDIR"]
    assert workdirs and workdirs[-1] == "/app", "the runtime WORKDIR must be /app"
    envs = " ".join(rest for op, rest in instructions if op == "ENV")
    assert "PYTHONUNBUFFERED=1" in envs
    copies = " ".join(rest for op, rest in instructions if op == "COPY")
    for item in ("pyproject.toml", "requirements.lock", "shared/", "services/", "scenario/", "bpmn/", "deploy/"):
        assert item in copies, f"Dockerfile must COPY {item}"
    assert any(op == "CMD" for op, _ in instructions), "Dockerfile needs a default CMD"


def test_dockerignore():
    assert DOCKERIGNORE.is_file(), ".dockerignore is missing"
    entries = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in (".venv", ".git", "data", "tests"):
        assert needed in entries, f".dockerignore must exclude {needed}"
    for kept in ("shared", "services", "scenario", "bpmn", "deploy", "pyproject.toml", "requirements.lock"):
        assert kept not in entries, f".dockerignore must not exclude {kept}: the Dockerfile copies it"


def test_the_console_reaches_every_service_and_the_provider(services):
    env = env_of(services["console"])
    assert gunicorn_target(services["console"]) == "services.console.bootstrap:create_app()"
    for name in SERVICES:  # inside the compose network, on each service's own port
        url = urlsplit(env[f"{name.upper()}_URL"])
        assert (url.hostname, url.port) == (name, config.DEFAULT_PORTS[name]), f"console: {name.upper()}_URL"
    # the browser is sent to the provider under the name the host knows it by
    assert urlsplit(env["CONSOLE_OIDC_AUTHORIZE_URL"]).path == "/authorize"
    assert urlsplit(env["CONSOLE_URL"]).port == config.DEFAULT_PORTS["console"]
    # the development issuer reads the directory's staff accounts from the profile service
    assert urlsplit(env_of(services["dev-issuer"])["PROFILE_URL"]).hostname == "profile"


def test_the_image_serves_the_consoles_browser_libraries():
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "npm ci" in text and "package-lock.json" in text, "the browser libraries come from the lock file"
    assert "services.console.assets" in text, "the image copies them into the console's static folder"
