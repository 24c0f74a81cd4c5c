"""Static checks of the Kubernetes manifests (deploy/kubernetes): every overlay renders, every resource
validates against the Kubernetes API schemas (kubernetes-validate, offline; the operators' resources by
shape), each process runs with a complete environment, probes point at real routes and the network
policies let each process reach what it calls and nothing the checks below name as off limits.

There is no cluster where the tests run. The overlays are rendered here with the subset of kustomize they
use (resources, namespace, images, replicas, strategic-merge patches), and compared with `kubectl
kustomize` where kubectl is installed.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from shared import config
from tests.unit.test_compose import REQUIRED_APP_ENV, SERVICES
from titles import supervisor

ROOT = Path(__file__).resolve().parents[2]
KUBE = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("city", "province")
KUBERNETES_VERSION = "1.30"  # the oldest release still maintained when these were written
OPERATOR_KINDS = {("postgresql.cnpg.io/v1", "Cluster"), ("rabbitmq.com/v1beta1", "RabbitmqCluster")}
KUSTOMIZE_FIELDS = {"apiVersion", "kind", "namespace", "resources", "images", "replicas", "patches"}
# What the operators write: CloudNativePG the database owner, the RabbitMQ operator the default user.
DATABASE = {"cnpg.io/cluster": "titles-db"}
BROKER = {"app.kubernetes.io/name": "titles-mq"}


# ------------------------------------------------------------------ rendering


def load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def merge(target: Any, patch: Any) -> Any:
    """Strategic merge as the overlays use it: maps merge, lists of named maps merge by name."""
    if isinstance(target, dict) and isinstance(patch, dict):
        out = dict(target)
        for key, value in patch.items():
            out[key] = merge(target[key], value) if key in target else copy.deepcopy(value)
        return out
    named = lambda items: isinstance(items, list) and all(isinstance(i, dict) and "name" in i for i in items)  # noqa: E731
    if named(target) and named(patch):
        out = [dict(i) for i in target]
        for item in patch:
            match = [n for n, existing in enumerate(out) if existing["name"] == item["name"]]
            if match:
                out[match[0]] = merge(out[match[0]], item)
            else:
                out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(patch)


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} resources"
    return found[0]


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(doc)
    return (spec.get("initContainers") or []) + spec["containers"] if spec else []


def pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    template = (doc.get("spec") or {}).get("template")
    return template["spec"] if template else None


def build(folder: Path) -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text(encoding="utf-8"))
    unknown = set(kustomization) - KUSTOMIZE_FIELDS
    assert not unknown, f"{folder}: this test renders only {sorted(KUSTOMIZE_FIELDS)}, not {sorted(unknown)}"
    docs: list[dict[str, Any]] = []
    for entry in kustomization.get("resources") or []:
        path = (folder / entry).resolve()
        docs += build(path) if path.is_dir() else load(path)
    for entry in kustomization.get("patches") or []:
        assert set(entry) == {"path"}, f"{folder}: patches by file only"
        for patch in load(folder / entry["path"]):
            target = find(docs, patch["kind"], patch["metadata"]["name"])
            docs[docs.index(target)] = merge(target, patch)
    for entry in kustomization.get("replicas") or []:
        find(docs, "Deployment", entry["name"])["spec"]["replicas"] = entry["count"]
    for image in kustomization.get("images") or []:
        for doc in docs:
            for container in containers(doc):
                if re.split(r"[:@]", container["image"])[0] == image["name"]:
                    container["image"] = f"{image.get('newName', image['name'])}:{image['newTag']}"
    if kustomization.get("namespace"):
        for doc in docs:
            doc["metadata"]["namespace"] = kustomization["namespace"]
    return docs


def rendered(overlay: str) -> list[dict[str, Any]]:
    return build(KUBE / "overlays" / overlay)


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, rendered(request.param)


def secrets_example() -> list[dict[str, Any]]:
    return load(KUBE / "secrets.example.yaml")


def every_folder() -> list[str]:
    return [o for name in OVERLAYS for o in (name, f"{name}/migrate")]


def key(doc: dict[str, Any]) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl (its kustomize) is not installed")
@pytest.mark.parametrize("folder", every_folder())
def test_kubectl_kustomize_renders_what_this_test_checks(folder):
    out = subprocess.run(
        ["kubectl", "kustomize", str(KUBE / "overlays" / folder)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    theirs = {key(d): d for d in yaml.safe_load_all(out) if d}
    ours = {key(d): d for d in build(KUBE / "overlays" / folder)}
    assert sorted(theirs) == sorted(ours)
    for name, doc in ours.items():
        assert json.dumps(theirs[name], sort_keys=True) == json.dumps(doc, sort_keys=True), name


# ------------------------------------------------------------------ schemas


@pytest.mark.parametrize("folder", every_folder())
def test_every_resource_validates_against_the_kubernetes_schemas(folder):
    for doc in build(KUBE / "overlays" / folder):
        if (doc["apiVersion"], doc["kind"]) in OPERATOR_KINDS:
            continue  # no schema ships for the operators' resources: see the shape tests below
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_secrets_example_validates_and_holds_no_secret():
    for doc in secrets_example():
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        for name, value in doc["stringData"].items():
            if re.search(r"PASSWORD|SECRET|PASSPHRASE|_URL$|\.p12$|^passphrase$", name):
                assert "CHANGE-ME" in value or name == "NOTIFY_SMS_GATEWAY", f"{key(doc)} {name}: a placeholder only"


def test_the_validator_refuses_what_the_api_server_would():
    broken = copy.deepcopy(find(rendered("city"), "Deployment", "review-consumer"))
    broken["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMap"] = {"name": "x"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_no_secret_is_rendered(overlay):
    _, docs = overlay
    assert not [key(d) for d in docs if d["kind"] == "Secret"], "Secrets are made apart (secrets.example.yaml)"


# ------------------------------------------------------------------ processes


def deployments(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}


def expected_processes() -> dict[str, list[str]]:
    """Deployment name -> command, from the processes `titles run` starts (the development issuer and
    timestamp authority are not for production and have none)."""
    result = {}
    for name, _, argv in supervisor.commands():
        if name in ("issuer", "tsa"):
            continue
        command = [Path(argv[0]).name] + [
            str(Path(a).relative_to(ROOT)) if a.startswith(str(ROOT)) else a for a in argv[1:]
        ]
        name = name.replace("-http", "-web") if name.endswith("-http") else name
        result["console-web" if name == "console" else name] = command
    return result


def test_every_process_runs_as_a_deployment_with_its_command(overlay):
    _, docs = overlay
    found = {name: containers(d)[0]["command"] for name, d in deployments(docs).items()}
    assert found == expected_processes()


def test_no_development_issuer_or_timestamp_authority(overlay):
    _, docs = overlay
    text = json.dumps(docs)
    assert "dev_issuer" not in text and "dev_tsa" not in text and "dev-issuer" not in text


def test_replicas(overlay):
    name, docs = overlay
    kustomization = yaml.safe_load((KUBE / "overlays" / name / "kustomization.yaml").read_text())
    scaled = {r["name"] for r in kustomization.get("replicas") or []}
    assert "review-consumer" in scaled, f"{name}: the review consumers are scaled on their own"
    for deployment_name, doc in deployments(docs).items():
        replicas, role = doc["spec"]["replicas"], deployment_name.rsplit("-", 1)[1]
        if role == "web":
            assert replicas >= 2, f"{name}: {deployment_name} needs two replicas or more"
        elif role == "relay":
            # two relays would each skip the other's locked outbox rows and publish out of order
            assert replicas == 1 and doc["spec"]["strategy"] == {"type": "Recreate"}, deployment_name
        elif role in ("scheduler", "dispatcher", "consumer"):
            assert replicas >= 2, f"{name}: {deployment_name} runs twice (it is safe to)"
    assert deployments(docs)["review-consumer"]["spec"]["replicas"] >= 3


def test_every_container_has_resource_requests_and_limits(overlay):
    for doc in overlay[1]:
        for container in containers(doc):
            for part in ("requests", "limits"):
                assert set(container["resources"][part]) >= {"cpu", "memory"}, f"{key(doc)}: {part}"


# ------------------------------------------------------------------ environment


def environment(docs: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """The variables a container gets: its ConfigMaps (rendered) and Secrets (the example) and its own."""
    sources = {("configMap", d["metadata"]["name"]): d["data"] for d in docs if d["kind"] == "ConfigMap"}
    sources |= {("secret", d["metadata"]["name"]): d["stringData"] for d in secrets_example()}
    env: dict[str, str] = {}
    for entry in container.get("envFrom") or []:
        kind = "configMap" if "configMapRef" in entry else "secret"
        ref = entry.get("configMapRef") or entry["secretRef"]
        assert (kind, ref["name"]) in sources, f"{container['name']}: no {kind} {ref['name']}"
        env |= sources[(kind, ref["name"])]
    for entry in container.get("env") or []:
        if "valueFrom" in entry:
            ref = entry["valueFrom"]["secretKeyRef"]
            env[entry["name"]] = sources[("secret", ref["name"])][ref["key"]]
        else:
            env[entry["name"]] = entry["value"]
    return env


def test_every_process_has_the_environment_compose_gives_it(overlay):
    _, docs = overlay
    for name, doc in {**deployments(docs), "titles-migrate": None}.items():
        doc = doc or find(build(KUBE / "overlays" / overlay[0] / "migrate"), "Job", "titles-migrate")
        env = environment(docs, containers(doc)[0])
        needed = ("TITLES_DATA_DIR", "PROMETHEUS_MULTIPROC_DIR", "OIDC_ISSUER", "OIDC_JWKS_URL", "OIDC_AUDIENCE")
        if name != "console-web":  # the console has no database and no broker
            needed += REQUIRED_APP_ENV
            assert "{service}" in env["DATABASE_URL"] and env["DATABASE_URL"].startswith("postgresql+psycopg://")
            assert env["BROKER_URL"].startswith("amqp://")
            assert env["BROKER_QUORUM_QUEUES"] == "1", f"{name}: every queue replicated over the cluster"
        missing = [k for k in needed if not env.get(k)]
        assert not missing, f"{name}: lacks {missing}"
        if name != "titles-migrate":
            service = name.rsplit("-", 1)[0]
            assert env["TITLES_SERVICE"] == service, name
        for mount in containers(doc)[0]["volumeMounts"]:
            assert mount["mountPath"] in (env["TITLES_DATA_DIR"], env["PROMETHEUS_MULTIPROC_DIR"]) or (
                mount["mountPath"].startswith(("/etc/titles/", env["TITLES_DATA_DIR"] + "/"))
            )


def test_web_parts_listen_where_their_services_send(overlay):
    _, docs = overlay
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    for name, doc in deployments(docs).items():
        if not name.endswith("-web"):
            continue
        service = name[: -len("-web")]
        container = containers(doc)[0]
        env = environment(docs, container)
        port = config.DEFAULT_PORTS[service]
        assert (env["HOST"], env["PORT"]) == ("0.0.0.0", str(port)), name
        assert container["ports"] == [{"name": "http", "containerPort": port}], name
        spec = services[service]["spec"]
        assert spec["selector"].items() <= doc["spec"]["template"]["metadata"]["labels"].items(), service
        assert spec["ports"] == [{"name": "http", "port": port, "targetPort": "http"}], service


def test_the_console_reaches_every_service_by_its_service_name(overlay):
    _, docs = overlay
    env = environment(docs, containers(deployments(docs)["console-web"])[0])
    for service in SERVICES:
        url = urlsplit(env[f"{service.upper()}_URL"])
        assert (url.hostname, url.port) == (service, config.DEFAULT_PORTS[service])
    for name in ("CONSOLE_URL", "CONSOLE_SECRET_KEY", "CONSOLE_OIDC_CLIENT_ID", "CONSOLE_OIDC_CLIENT_SECRET"):
        assert env.get(name), name


def test_the_certificate_processes_load_the_signing_key_from_a_mounted_secret(overlay):
    _, docs = overlay
    for name in ("certificate-web", "certificate-consumer"):
        doc = deployments(docs)[name]
        container = containers(doc)[0]
        path = environment(docs, container)["CERTIFICATE_SIGNING_PKCS12"]
        [mount] = [m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
        [volume] = [v for v in pod_spec(doc)["volumes"] if v["name"] == mount["name"]]
        items = {i["path"]: i["key"] for i in volume["secret"]["items"]}
        [secret] = [s for s in secrets_example() if s["metadata"]["name"] == volume["secret"]["secretName"]]
        assert items[path[len(mount["mountPath"]) + 1 :]] in secret["stringData"]


def test_the_ingress_sends_to_the_console_and_the_verification_page(overlay):
    _, docs = overlay
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    [ingress] = [d for d in docs if d["kind"] == "Ingress"]
    paths = {p["path"]: p["backend"]["service"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
    assert {p: s["name"] for p, s in paths.items()} == {"/": "console", "/verify": "certificate"}
    for backend in paths.values():
        assert backend["port"]["name"] in {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
    config_map = find(docs, "ConfigMap", "titles-config")["data"]
    host = ingress["spec"]["rules"][0]["host"]
    assert urlsplit(config_map["CERTIFICATE_VERIFY_URL"]).hostname == host
    assert urlsplit(config_map["CONSOLE_URL"]).hostname == host


def test_probes_point_at_routes_the_apps_have(overlay, tmp_path, monkeypatch):
    import importlib

    monkeypatch.setenv("TITLES_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/{{service}}.db")
    monkeypatch.setenv("BROKER_URL", f"embedded://{tmp_path}/broker")
    for service in (*SERVICES, "console"):
        monkeypatch.delenv(f"{service.upper()}_DATABASE_URL", raising=False)
    _, docs = overlay
    probed = {}
    for name, doc in deployments(docs).items():
        container = containers(doc)[0]
        if name.endswith("-web"):
            probed[name[: -len("-web")]] = (
                container["readinessProbe"]["httpGet"],
                container["livenessProbe"]["httpGet"],
            )
        else:
            assert "readinessProbe" not in container and "ports" not in container, name
    assert set(probed) == {*SERVICES, "console"}
    for service, (ready, alive) in probed.items():
        assert (ready, alive) == ({"path": "/ready", "port": "http"}, {"path": "/health", "port": "http"})
        app = importlib.import_module(f"services.{service}.bootstrap").create_app()
        rules = {rule.rule for rule in app.url_map.iter_rules()}
        assert {"/ready", "/health"} <= rules, service
        assert app.test_client().get("/health").status_code == 200, service


# ------------------------------------------------------------------ the migration job


@pytest.mark.parametrize("name", OVERLAYS)
def test_the_migration_job_runs_before_a_rollout_with_the_overlays_image(name):
    [job] = build(KUBE / "overlays" / name / "migrate")
    docs = rendered(name)
    assert job["kind"] == "Job" and job["metadata"]["namespace"] == docs[0]["metadata"]["namespace"]
    assert containers(job)[0]["command"] == ["sh", "-c", "titles migrate && titles deploy"]
    assert {containers(job)[0]["image"]} == {c["image"] for d in docs for c in containers(d)}
    assert pod_spec(job)["restartPolicy"] in ("OnFailure", "Never")


# ------------------------------------------------------------------ the operators' resources, by shape


def connections() -> dict[str, str]:
    [secret] = [s for s in secrets_example() if s["metadata"]["name"] == "titles-connections"]
    return secret["stringData"]


def test_postgresql_is_a_cloudnativepg_cluster_with_a_database_per_service(overlay):
    name, docs = overlay
    cluster = find(docs, "Cluster", "titles-db")
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    assert cluster["spec"]["instances"] >= 2, f"{name}: a primary and a replica at least"
    assert cluster["spec"]["storage"]["size"]
    created = {
        re.fullmatch(r"CREATE DATABASE (\w+) OWNER (\w+)", s).groups()
        for s in cluster["spec"]["bootstrap"]["initdb"]["postInitSQL"]
    }
    url = connections()["DATABASE_URL"]
    owner = cluster["spec"]["bootstrap"]["initdb"]["owner"]
    assert urlsplit(url).username == owner and urlsplit(url).hostname == "titles-db-rw"
    assert created == {(urlsplit(url.replace("{service}", s)).path.lstrip("/"), owner) for s in SERVICES}


def test_rabbitmq_is_an_operators_cluster_of_three_nodes(overlay):
    _, docs = overlay
    cluster = find(docs, "RabbitmqCluster", "titles-mq")
    assert cluster["apiVersion"] == "rabbitmq.com/v1beta1"
    assert cluster["spec"]["replicas"] >= 3 and cluster["spec"]["replicas"] % 2 == 1, "quorum queues need a majority"
    assert "cluster_partition_handling = pause_minority" in cluster["spec"]["rabbitmq"]["additionalConfig"]
    assert urlsplit(connections()["BROKER_URL"]).hostname == "titles-mq"


def test_every_secret_a_pod_reads_is_in_the_example(overlay):
    _, docs = overlay
    known = {s["metadata"]["name"]: s["stringData"] for s in secrets_example()}
    for doc in docs:
        for container in containers(doc):
            refs = [e["secretRef"] for e in container.get("envFrom") or [] if "secretRef" in e]
            refs += [e["valueFrom"]["secretKeyRef"] for e in container.get("env") or [] if "valueFrom" in e]
            for ref in refs:
                assert ref["name"] in known, f"{key(doc)}: Secret {ref['name']}"
                assert ref.get("key", next(iter(known[ref["name"]]))) in known[ref["name"]]
        for volume in (pod_spec(doc) or {}).get("volumes") or []:
            if "secret" in volume:
                assert volume["secret"]["secretName"] in known


# ------------------------------------------------------------------ network policies


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if not all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        value, operator = labels.get(expression["key"]), expression["operator"]
        if operator == "In" and value not in expression["values"]:
            return False
        if operator == "NotIn" and value in expression["values"]:
            return False
        if operator == "Exists" and value is None or operator == "DoesNotExist" and value is not None:
            return False
    return True


class Pod:
    """A pod as the policies see it: its namespace's labels, its own, its named ports, or an address."""

    def __init__(
        self,
        labels: dict[str, str] | None = None,
        namespace: str = "titles",
        ports: dict[str, int] | None = None,
        address: str | None = None,
    ):
        self.labels, self.namespace, self.ports, self.address = labels or {}, namespace, ports or {}, address

    def matches(self, peer: dict[str, Any]) -> bool:
        if "ipBlock" in peer:
            block = peer["ipBlock"]
            return (
                self.address is not None
                and ipaddress.ip_address(self.address) in ipaddress.ip_network(block["cidr"])
                and not any(
                    ipaddress.ip_address(self.address) in ipaddress.ip_network(e) for e in block.get("except") or []
                )
            )
        if self.address is not None:
            return False
        if "namespaceSelector" in peer:
            if not selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": self.namespace}):
                return False
        elif self.namespace != "titles":
            return False
        return selects(peer.get("podSelector") or {}, self.labels)


def allowed(policies: list[dict[str, Any]], source: Pod, target: Pod, port: int, protocol: str = "TCP") -> bool:
    def side(pod: Pod, kind: str, peer: Pod, field: str) -> bool:
        if pod.address is not None or pod.namespace != "titles":
            return True  # outside the manifests: not theirs to restrict
        applying = [
            p["spec"]
            for p in policies
            if kind in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], pod.labels)
        ]
        if not applying:
            return True
        for spec in applying:
            for rule in spec.get(kind.lower()) or []:
                ports = rule.get("ports")
                port_ok = not ports or any(
                    (p.get("protocol", "TCP") == protocol)
                    and p["port"] in (port, *[n for n, v in target.ports.items() if v == port])
                    for p in ports
                )
                peers = rule.get("to" if kind == "Egress" else "from")
                if port_ok and (not peers or any(peer.matches(x) for x in peers)):
                    return True
        return False

    return side(source, "Egress", target, "to") and side(target, "Ingress", source, "from")


def pods(docs: list[dict[str, Any]]) -> dict[str, Pod]:
    result = {}
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            ports = {p["name"]: p["containerPort"] for c in containers(doc) for p in c.get("ports") or []}
            result[doc["metadata"]["name"]] = Pod(doc["spec"]["template"]["metadata"]["labels"], ports=ports)
    return result


def test_each_process_reaches_what_it_calls_and_not_more(overlay):
    name, docs = overlay
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    running = pods(docs + build(KUBE / "overlays" / name / "migrate"))
    database, broker = Pod(DATABASE), Pod(BROKER)
    dns = Pod({"k8s-app": "kube-dns"}, namespace="kube-system")
    internet = Pod(address="203.0.113.10")
    ingress = Pod({"app.kubernetes.io/name": "ingress-nginx"}, namespace="ingress-nginx")
    web = {n[: -len("-web")]: p for n, p in running.items() if n.endswith("-web")}

    for process, pod in running.items():
        assert allowed(policies, pod, dns, 53, "UDP"), f"{process}: DNS"
        if process == "console-web":
            assert not allowed(policies, pod, database, 5432) and not allowed(policies, pod, broker, 5672)
        else:
            assert allowed(policies, pod, database, 5432), f"{process} -> PostgreSQL"
            assert allowed(policies, pod, broker, 5672), f"{process} -> RabbitMQ"
        # the services talk to each other through the broker only
        for service in SERVICES:
            if process != "console-web":
                assert not allowed(policies, pod, web[service], config.DEFAULT_PORTS[service]), (
                    f"{process} -> {service}"
                )
        calls_out = process.endswith("-web") or process.startswith("certificate-") or process == "notify-dispatcher"
        assert allowed(policies, pod, internet, 443) == calls_out, f"{process} -> HTTPS outside"
    for service in SERVICES:
        assert allowed(policies, web["console"], web[service], config.DEFAULT_PORTS[service]), f"console -> {service}"
    for process in ("certificate-web", "certificate-consumer"):
        assert allowed(policies, running[process], internet, 80), f"{process} -> CRL"
    assert allowed(policies, running["notify-dispatcher"], internet, 587)
    assert not allowed(policies, running["notify-consumer"], internet, 587)
    public = {s for s in (*SERVICES, "console") if allowed(policies, ingress, web[s], config.DEFAULT_PORTS[s])}
    assert public == {"console", "certificate"}
    assert not allowed(policies, internet, database, 5432) and not allowed(policies, web["console"], database, 5432)
