"""What the deployment files are checked against: the services' own settings and scripts.

Every ATTESTA_* variable that docker-compose, a Dockerfile or the Helm chart sets must be
a field of the service's Settings class (env prefix + field name, or a validation alias),
so renaming a setting in the code breaks these tests until the deployment follows.
"""

from __future__ import annotations

import importlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import AliasChoices
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Component:
    name: str  # the image name and the Helm component label
    settings: str  # module:Class
    packages: tuple[str, ...]  # folders whose pyproject.toml scripts the image has
    service_dir: str


COMPONENTS = {
    c.name: c
    for c in (
        Component(
            "api-gateway",
            "attesta_gateway.settings:GatewaySettings",
            ("libs/common", "services/chain-writer", "services/api-gateway"),
            "services/api-gateway",
        ),
        Component(
            "executor",
            "attesta_executor.settings:ExecutorSettings",
            ("libs/common", "libs/engine", "services/executor"),
            "services/executor",
        ),
        Component(
            "validator",
            "attesta_validator.settings:ValidatorSettings",
            ("libs/common", "libs/engine", "services/validator"),
            "services/validator",
        ),
        Component(
            "chain-writer",
            "attesta_chain_writer.settings:ChainWriterSettings",
            ("libs/common", "services/chain-writer"),
            "services/chain-writer",
        ),
        Component(
            "epoch-settler",
            "attesta_settler.settings:SettlerSettings",
            ("libs/common", "services/epoch-settler"),
            "services/epoch-settler",
        ),
    )
}

# Read with os.environ outside the Settings classes: (variable, module that reads it).
ENGINE_VARIABLES = {"ATTESTA_MODEL_CACHE": "attesta_engine.model_store"}
ENGINE_COMPONENTS = {"executor", "validator"}

# Set for features that are not built yet; allowed only where that feature is selected
# (the `gpu` compose profile, Helm executors with engine=vllm). Documented in
# docs/operations.md; once the code reads them they pass as ordinary settings (as
# ATTESTA_ENGINE does now that the vLLM engine exists). Empty: nothing is planned.
PLANNED: dict[str, str] = {}

# The ops endpoints (attesta_common.ops_server) of every service but the gateway, which
# serves /health, /health/live and /metrics on its API port instead.
OPS_COMPONENTS = ("executor", "validator", "chain-writer", "epoch-settler")
OPS_PORT = 9100
GATEWAY_PORT = 8000


def metric_sample_names() -> dict[str, set[str]]:
    """Every series name attesta_common.metrics exports, read from the collectors
    themselves: {metric family: the sample names Prometheus sees}."""
    from attesta_common import metrics
    from prometheus_client.metrics import MetricWrapperBase

    suffixes = {
        "counter": ("_total", "_created"),
        "gauge": ("",),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "summary": ("", "_sum", "_count", "_created"),
    }
    names: dict[str, set[str]] = {}
    for collector in vars(metrics).values():
        if not isinstance(collector, MetricWrapperBase):
            continue
        for family in collector.describe():
            names[family.name] = {family.name + s for s in suffixes[family.type]}
    return names


def settings_class(component: str) -> type[BaseSettings]:
    module_name, _, class_name = COMPONENTS[component].settings.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    assert isinstance(cls, type) and issubclass(cls, BaseSettings)
    return cls


def env_names(cls: type[BaseSettings]) -> set[str]:
    """The environment variable names a pydantic-settings class reads."""
    prefix = str(cls.model_config.get("env_prefix") or "")
    names: set[str] = set()
    for field_name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(choice.upper() for choice in alias.choices if isinstance(choice, str))
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


def engine_variable_is_read(variable: str) -> bool:
    module = importlib.import_module(ENGINE_VARIABLES[variable])
    source = Path(str(module.__file__)).read_text(encoding="utf-8")
    return f'"{variable}"' in source


def unknown_variables(component: str, variables: set[str], *, planned_ok: bool) -> set[str]:
    """The ATTESTA_* names in `variables` that `component` does not read."""
    known = env_names(settings_class(component))
    if component in ENGINE_COMPONENTS:
        known |= {v for v in ENGINE_VARIABLES if engine_variable_is_read(v)}
    if planned_ok:
        known |= set(PLANNED)
    return {v for v in variables if v.startswith("ATTESTA_") and v not in known}


def console_scripts(component: str) -> set[str]:
    scripts: set[str] = set()
    for package in COMPONENTS[component].packages:
        with open(ROOT / package / "pyproject.toml", "rb") as handle:
            scripts.update(tomllib.load(handle)["project"].get("scripts", {}))
    return scripts
