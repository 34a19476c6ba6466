"""docker-compose.yml, the Dockerfiles and the observability configs, checked offline.

No Docker engine is needed: the compose file is validated against the compose-spec JSON
schema that check-jsonschema vendors (the same as
`check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml`), and every
command and ATTESTA_* variable is compared with what the code really provides and reads.
"""

from __future__ import annotations

import importlib.resources
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from deploy_support import (
    COMPONENTS,
    GATEWAY_PORT,
    OPS_COMPONENTS,
    OPS_PORT,
    ROOT,
    console_scripts,
    env_names,
    metric_sample_names,
    settings_class,
    unknown_variables,
)

COMPOSE_PATH = ROOT / "docker-compose.yml"
ATTESTA_SERVICES = {
    "api-gateway": "api-gateway",
    "provision": "api-gateway",
    "executor": "executor",
    "executor-gpu": "executor",
    "validator": "validator",
    "chain-writer": "chain-writer",
    "epoch-settler": "epoch-settler",
}


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_PATH.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _services() -> dict[str, dict[str, Any]]:
    services = _compose()["services"]
    assert isinstance(services, dict)
    return services


def _command(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def test_compose_file_matches_the_compose_spec_schema() -> None:
    schema_file = (
        importlib.resources.files("check_jsonschema")
        / "builtin_schemas"
        / "vendor"
        / "compose-spec.json"
    )
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    errors = sorted(
        validator_class(schema).iter_errors(_compose()), key=lambda e: list(e.absolute_path)
    )
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_profiles_hold_the_services_the_issue_names() -> None:
    by_profile: dict[str, set[str]] = {}
    for name, service in _services().items():
        for profile in service.get("profiles", []):
            by_profile.setdefault(profile, set()).add(name)
    assert {"nats", "postgres", *ATTESTA_SERVICES} - {"executor-gpu"} <= by_profile["core"]
    assert "executor-gpu" in by_profile["gpu"]
    assert {"otel-collector", "jaeger", "prometheus", "grafana"} <= by_profile["observability"]
    assert "chain-node" in by_profile["chain"]


def test_every_service_has_a_known_image_or_build_and_commands_are_console_scripts() -> None:
    services = _services()
    assert set(ATTESTA_SERVICES) <= set(services)
    for name, component in ATTESTA_SERVICES.items():
        service = services[name]
        assert str(service["image"]).startswith("attesta/"), name
        if "build" in service:
            assert (
                service["build"]["dockerfile"] == f"{COMPONENTS[component].service_dir}/Dockerfile"
            )
        script = _command(service)[0]
        assert script in console_scripts(component), f"{name}: {script} is not a console script"


def test_attesta_variables_are_settings_the_services_read() -> None:
    for name, component in ATTESTA_SERVICES.items():
        service = _services()[name]
        variables = set(service.get("environment", {}))
        planned_ok = "gpu" in service.get("profiles", [])
        unknown = unknown_variables(component, variables, planned_ok=planned_ok)
        assert not unknown, f"{name} sets {sorted(unknown)}, which {component} does not read"


def test_the_check_catches_a_renamed_setting() -> None:
    gateway = env_names(settings_class("api-gateway"))
    assert {"ATTESTA_REQUEST_TIMEOUT_S", "ATTESTA_NATS_URL", "NATS_URL", "DATABASE_URL"} <= gateway
    assert unknown_variables("api-gateway", {"ATTESTA_REQUEST_TIMEOUT"}, planned_ok=False)
    # Planned settings pass only where allowed; a real one passes everywhere.
    assert unknown_variables("executor", {"ATTESTA_NOT_YET"}, planned_ok=True)
    assert not unknown_variables("executor", {"ATTESTA_ENGINE"}, planned_ok=False)
    for component in COMPONENTS:
        ops = {"ATTESTA_OPS_HOST", "ATTESTA_OPS_PORT"}
        assert not unknown_variables(component, ops, planned_ok=False), component
    assert not unknown_variables("executor", {"ATTESTA_MODEL_CACHE"}, planned_ok=False)
    assert unknown_variables("chain-writer", {"ATTESTA_MODEL_CACHE"}, planned_ok=False)


def test_long_running_services_have_health_checks_restart_policies_and_drain_time() -> None:
    for name, service in _services().items():
        if name in ("provision",):
            assert service["restart"] == "no"
            continue
        assert service.get("restart") == "unless-stopped", name
        check = service.get("healthcheck", {})
        assert check.get("test") or check.get("disable"), f"{name} has no health check"
        if name in ATTESTA_SERVICES:
            assert service["stop_signal"] == "SIGTERM"
            assert "stop_grace_period" in service, name
            assert service["user"] != "root"


HEALTHCHECK = ["CMD", "python", "/opt/attesta/healthcheck.py", "http"]
READY_URL = f"http://127.0.0.1:{OPS_PORT}/health/ready"


def test_ops_services_serve_their_endpoints_and_are_checked_over_http() -> None:
    for name, component in ATTESTA_SERVICES.items():
        service = _services()[name]
        if name == "provision":
            continue
        test = service["healthcheck"]["test"]
        assert test[:4] == HEALTHCHECK, f"{name}: {test}"
        if component == "api-gateway":
            assert test[4] == f"http://127.0.0.1:{GATEWAY_PORT}/health"
            assert "ATTESTA_OPS_PORT" not in service["environment"]
            continue
        assert component in OPS_COMPONENTS
        env = service["environment"]
        assert env["ATTESTA_OPS_HOST"] == "0.0.0.0", name
        assert int(env["ATTESTA_OPS_PORT"]) == OPS_PORT, name
        assert test[4] == READY_URL, name


def test_healthcheck_script_has_only_the_http_mode() -> None:
    import http.server
    import subprocess
    import sys
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health/ready" else 503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    script = str(ROOT / "deploy/docker/healthcheck.py")

    def run(*args: str) -> int:
        return subprocess.run([sys.executable, script, *args], capture_output=True).returncode

    try:
        assert run("http", f"{base}/health/ready") == 0
        assert run("http", f"{base}/health/other") == 1
        assert run("process", "attesta-executor") == 2
    finally:
        server.shutdown()
        server.server_close()


def test_prometheus_scrapes_the_gateway_and_every_ops_port() -> None:
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text("utf-8"))
    targets = {
        target: job.get("metrics_path", "/metrics")
        for job in config["scrape_configs"]
        for group in job["static_configs"]
        for target in group["targets"]
    }
    assert targets[f"api-gateway:{GATEWAY_PORT}"] == "/metrics"
    for name, component in ATTESTA_SERVICES.items():
        if component in OPS_COMPONENTS:
            assert targets[f"{name}:{OPS_PORT}"] == "/metrics", name


def test_nats_and_postgres_keep_their_data_in_volumes() -> None:
    compose = _compose()
    services = compose["services"]
    assert "nats-data:/data" in services["nats"]["volumes"]
    assert "--store_dir" in _command(services["nats"])
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert {"nats-data", "postgres-data"} <= set(compose["volumes"])


def test_each_key_goes_only_to_its_own_service() -> None:
    compose = _compose()
    secrets = compose["secrets"]
    for name in ATTESTA_SERVICES:
        service = compose["services"][name]
        own = service.get("secrets", [])
        if name == "provision":
            assert not own
            continue
        assert len(own) == 1, name
        assert service["environment"]["ATTESTA_KEY_PATH"] == f"/run/secrets/{own[0]}"
        assert str(secrets[own[0]]["file"]).startswith("./deploy/secrets/keys/")


def test_the_gpu_executor_reserves_an_nvidia_gpu() -> None:
    gpu = _services()["executor-gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]


@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_dockerfile_is_multi_stage_non_root_and_runs_a_console_script(component: str) -> None:
    text = (ROOT / COMPONENTS[component].service_dir / "Dockerfile").read_text(encoding="utf-8")
    assert len(re.findall(r"^FROM ", text, re.MULTILINE)) >= 2
    assert "python:3.11-slim" in text
    assert re.search(r"^USER 10001", text, re.MULTILINE)
    assert re.search(r"^STOPSIGNAL SIGTERM", text, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK ", text, re.MULTILINE)
    cmd = re.search(r'^CMD \["([^"]+)"\]', text, re.MULTILINE)
    assert cmd and cmd.group(1) in console_scripts(component)
    # Every path copied from the build context exists and is not excluded by .dockerignore.
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for source in re.findall(r"^COPY (?!--from)(\S+) ", text, re.MULTILINE):
        assert (ROOT / source).exists(), source
        assert not any(source == rule or source.startswith(rule + "/") for rule in ignored)
    variables = set(re.findall(r"\b(ATTESTA_[A-Z0-9_]+)=", text))
    assert not unknown_variables(component, variables, planned_ok=False)
    healthcheck = re.search(r"^HEALTHCHECK [^\n]*\\\n\s+CMD (\[.*\])$", text, re.MULTILINE)
    assert healthcheck, "HEALTHCHECK ... CMD [...] on the next line"
    command = json.loads(healthcheck.group(1))
    assert command[:3] == ["python", "/opt/attesta/healthcheck.py", "http"]
    if component in OPS_COMPONENTS:
        assert command[3] == READY_URL
        assert f"ATTESTA_OPS_PORT={OPS_PORT}" in text and "ATTESTA_OPS_HOST=0.0.0.0" in text
        assert re.search(rf"^EXPOSE {OPS_PORT}$", text, re.MULTILINE)
    else:
        assert command[3] == f"http://127.0.0.1:{GATEWAY_PORT}/health"
    if component in ("executor", "validator"):
        assert "attesta-model prepare" in text and "ATTESTA_MODEL_CACHE=/models" in text


def test_dashboard_uses_only_metrics_the_services_define() -> None:
    dashboard = json.loads(
        (ROOT / "deploy/grafana/dashboards/attesta.json").read_text(encoding="utf-8")
    )
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {m for e in expressions for m in re.findall(r"attesta_\w+", e)}
    exported = set().union(*metric_sample_names().values())
    unknown = used - exported
    assert not unknown, f"not exported by attesta_common.metrics: {sorted(unknown)}"
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("request rate", "latency", "first token", "tokens per second", "checks"):
        assert topic in titles
    for topic in ("batch", "anchoring lag", "settlement"):
        assert topic in titles


def test_operations_doc_lists_every_metric() -> None:
    operations = (ROOT / "docs/operations.md").read_text(encoding="utf-8")
    for family, samples in metric_sample_names().items():
        shown = {family, *samples}
        assert any(f"`{name}`" in operations for name in shown), family


@pytest.mark.parametrize(
    "path",
    [
        "deploy/otel-collector.yaml",
        "deploy/prometheus/prometheus.yml",
        "deploy/grafana/provisioning/datasources/datasources.yaml",
        "deploy/grafana/provisioning/dashboards/dashboards.yaml",
    ],
)
def test_observability_configs_parse_and_are_mounted(path: str) -> None:
    assert isinstance(yaml.safe_load((ROOT / path).read_text(encoding="utf-8")), dict)
    mounted = json.dumps(_compose()["services"])
    assert path.split("/")[1] in mounted or Path(path).name in mounted


def test_collector_pipeline_sends_traces_to_the_trace_store() -> None:
    config = yaml.safe_load((ROOT / "deploy/otel-collector.yaml").read_text(encoding="utf-8"))
    traces = config["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"]
    assert config["exporters"][traces["exporters"][0]]["endpoint"] == "jaeger:4317"
