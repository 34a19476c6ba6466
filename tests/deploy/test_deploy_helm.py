"""The Helm chart: rendered offline with helm-python-sdk (Helm's Go SDK through ctypes, no
helm binary, no cluster) for several value sets, linted, and every manifest validated
against the Kubernetes OpenAPI schemas bundled with kubernetes-validate."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from deploy_support import (
    GATEWAY_PORT,
    OPS_COMPONENTS,
    OPS_PORT,
    ROOT,
    console_scripts,
    unknown_variables,
)

CHART = ROOT / "helm/attesta"
KUBERNETES_VERSION = "1.31.0"
# Custom resources: their schemas come with the operator's CRDs, not with Kubernetes.
CRD_KINDS = {"ServiceMonitor"}  # monitoring.coreos.com/v1 (Prometheus Operator)

VALUE_SETS = {
    "default": None,
    "external": "ci/external-values.yaml",
    "gpu": "ci/gpu-values.yaml",
    "observability": "ci/observability-values.yaml",
    "canary": "ci/canary-values.yaml",
}


def _values(name: str) -> dict[str, Any] | None:
    path = VALUE_SETS[name]
    if path is None:
        return None
    loaded = yaml.safe_load((CHART / path).read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@cache
def _render(name: str) -> tuple[dict[str, Any], ...]:
    chart = helm.Chart.load(CHART)
    rendered = chart.render(_values(name), name="attesta", namespace="attesta", is_install=True)
    documents: list[dict[str, Any]] = []
    for path, text in rendered.items():
        if Path(path).suffix != ".yaml":
            continue
        documents.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return tuple(documents)


def _kind(name: str, kind: str) -> list[dict[str, Any]]:
    return [doc for doc in _render(name) if doc["kind"] == kind]


def _deployments(name: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in _kind(name, "Deployment")}


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_chart_lints_clean(value_set: str) -> None:
    report = helm.lint(
        CHART, _values(value_set), strict=True, kube_version="v" + KUBERNETES_VERSION
    )
    problems = [m for m in report["messages"] if m["severity"] >= 2]  # warnings and errors
    assert not problems and not report["errors"], report


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_values_match_the_schema(value_set: str) -> None:
    helm.Chart.load(CHART).validate_schema(_values(value_set))


def test_schema_rejects_bad_values() -> None:
    chart = helm.Chart.load(CHART)
    for bad in (
        {"gateway": {"env": {"REQUEST_TIMEOUT_S": "1"}}},
        {"executors": [{"name": "Executor_0", "keySecret": {"name": "k", "key": "key"}}]},
        {"executorDefaults": {"engine": "tensorrt"}},
        {"unknownTopLevel": True},
    ):
        with pytest.raises(helm.HelmError):
            chart.validate_schema(bad)


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_rendered_manifests_validate_against_kubernetes_schemas(value_set: str) -> None:
    for document in _render(value_set):
        if document["kind"] in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            name = f"{document['kind']}/{document['metadata']['name']}"
            pytest.fail(f"{value_set}: {name}: {'.'.join(map(str, error.path))}: {error.message}")


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_commands_and_variables_are_what_the_services_provide_and_read(value_set: str) -> None:
    for deployment in _deployments(value_set).values():
        component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        container = _container(deployment)
        assert container["command"][0] in console_scripts(component)
        variables = {entry["name"] for entry in container["env"]}
        planned_ok = any(
            e["name"] == "ATTESTA_ENGINE" and e["value"] == "vllm" for e in container["env"]
        )
        unknown = unknown_variables(component, variables, planned_ok=planned_ok)
        assert not unknown, f"{deployment['metadata']['name']} sets {sorted(unknown)}"


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_service_has_probes_a_pdb_and_graceful_shutdown(value_set: str) -> None:
    budgets = {doc["metadata"]["name"] for doc in _kind(value_set, "PodDisruptionBudget")}
    for name, deployment in _deployments(value_set).items():
        pod = deployment["spec"]["template"]["spec"]
        container = _container(deployment)
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert probe in container, f"{name}: no {probe}"
        assert pod["terminationGracePeriodSeconds"] >= 20
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert name in budgets, f"{name}: no PodDisruptionBudget"
        # Keys by reference: a Secret volume, never a literal value.
        secret = next(v for v in pod["volumes"] if v["name"] == "key")["secret"]
        assert secret["secretName"]


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_probes_are_http_on_the_health_endpoints(value_set: str) -> None:
    for name, deployment in _deployments(value_set).items():
        component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        container = _container(deployment)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        env = {e["name"]: e.get("value") for e in container["env"]}
        probes = {
            probe: (container[probe]["httpGet"]["path"], container[probe]["httpGet"]["port"])
            for probe in ("startupProbe", "livenessProbe", "readinessProbe")
        }
        if component == "api-gateway":
            assert ports == {"http": GATEWAY_PORT}
            assert probes["readinessProbe"] == ("/health", "http")
            assert probes["livenessProbe"] == probes["startupProbe"] == ("/health/live", "http")
            continue
        assert component in OPS_COMPONENTS, name
        assert ports == {"ops": OPS_PORT}, name
        assert env["ATTESTA_OPS_HOST"] == "0.0.0.0"
        assert env["ATTESTA_OPS_PORT"] == str(OPS_PORT)
        assert probes["readinessProbe"] == ("/health/ready", "ops")
        assert probes["livenessProbe"] == probes["startupProbe"] == ("/health/live", "ops")
        startup = container["startupProbe"]
        allowed_s = startup["periodSeconds"] * startup["failureThreshold"]
        # Executors and validators load a model before they serve; the rest start fast.
        assert allowed_s >= (300 if component in ("executor", "validator") else 60), name


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_each_ops_workload_has_a_service_for_its_ops_port(value_set: str) -> None:
    services = _kind(value_set, "Service")
    for name, deployment in _deployments(value_set).items():
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        port = "http" if name.endswith("api-gateway") else "ops"
        matching = [
            s
            for s in services
            if _selects(s["spec"]["selector"], pod_labels)
            and any(p["name"] == port and p["targetPort"] == port for p in s["spec"]["ports"])
        ]
        assert len(matching) == 1, f"{name}: {len(matching)} Services for its {port} port"
        # Only this workload's pods, never a second participant's.
        for other, other_deployment in _deployments(value_set).items():
            if other != name:
                other_labels = other_deployment["spec"]["template"]["metadata"]["labels"]
                assert not _selects(matching[0]["spec"]["selector"], other_labels)


def test_default_release_bundles_nats_and_postgres_and_autoscales_the_gateway() -> None:
    kinds = {(doc["kind"], doc["metadata"]["name"]) for doc in _render("default")}
    assert ("StatefulSet", "attesta-nats") in kinds
    assert ("StatefulSet", "attesta-postgresql") in kinds
    (hpa,) = _kind("default", "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "attesta-api-gateway"
    assert "replicas" not in _deployments("default")["attesta-api-gateway"]["spec"]
    assert not _kind("default", "ServiceMonitor")


def test_external_endpoints_replace_the_bundled_ones() -> None:
    assert not _kind("external", "StatefulSet")
    assert not _kind("external", "HorizontalPodAutoscaler")
    for deployment in _deployments("external").values():
        env = {e["name"]: e for e in _container(deployment)["env"]}
        assert env["ATTESTA_NATS_URL"]["value"] == "nats://nats.messaging.svc:4222"
        database = env["ATTESTA_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
        assert database == {"name": "attesta-database", "key": "url"}


def test_gpu_executors_request_gpus_on_gpu_nodes() -> None:
    deployments = _deployments("gpu")
    cpu = deployments["attesta-executor-0"]
    assert "nvidia.com/gpu" not in _container(cpu)["resources"].get("limits", {})
    for name, count in (("attesta-executor-gpu-0", 1), ("attesta-executor-gpu-1", 2)):
        deployment = deployments[name]
        pod = deployment["spec"]["template"]["spec"]
        assert _container(deployment)["resources"]["limits"]["nvidia.com/gpu"] == count
        assert pod["nodeSelector"]
        assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
        # One participant, one key: never two pods with the same identity.
        assert deployment["spec"]["replicas"] == 1
        assert deployment["spec"]["strategy"]["type"] == "Recreate"
    assert "attesta-validator-1" in deployments


def test_canary_key_reaches_the_gateway_and_only_the_canary_executor() -> None:
    deployments = _deployments("canary")

    def canary_mount(name: str) -> tuple[str | None, list[str]]:
        container = _container(deployments[name])
        env = {e["name"]: e.get("value") for e in container["env"]}
        volumes = deployments[name]["spec"]["template"]["spec"]["volumes"]
        secrets = [v["secret"]["secretName"] for v in volumes if v["name"] == "canary-key"]
        return env.get("ATTESTA_CANARY_KEY_PATH"), secrets

    expected = ("/etc/attesta/canary/canary.key", ["attesta-canary-key"])
    assert canary_mount("attesta-api-gateway") == expected
    assert canary_mount("attesta-executor-canary") == expected
    assert canary_mount("attesta-executor-0") == (None, [])
    assert canary_mount("attesta-validator-0") == (None, [])


def test_observability_values_export_traces_and_add_a_service_monitor() -> None:
    (monitor,) = _kind("observability", "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    endpoints = {e["port"]: e["path"] for e in monitor["spec"]["endpoints"]}
    assert endpoints == {"http": "/metrics", "ops": "/metrics"}
    selector = monitor["spec"]["selector"]["matchLabels"]
    scraped = {
        s["metadata"]["name"]: {p["name"] for p in s["spec"]["ports"]}
        for s in _kind("observability", "Service")
        if _selects(selector, s["metadata"]["labels"])
    }
    # The gateway on its http port, every other workload on its ops port; nothing else
    # (NATS, Postgres) is picked up.
    assert scraped.pop("attesta-api-gateway") == {"http"}
    expected = {
        f"{name}-ops"
        for name, d in _deployments("observability").items()
        if d["metadata"]["labels"]["app.kubernetes.io/component"] in OPS_COMPONENTS
    }
    assert set(scraped) == expected and all(ports == {"ops"} for ports in scraped.values())
    for deployment in _deployments("observability").values():
        container = _container(deployment)
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.observability.svc:4318"
        assert container["image"].startswith("ghcr.io/example/attesta/")
