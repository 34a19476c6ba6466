# Attesta: `make run` starts the whole network on this machine, `make test` runs the tests.
VENV ?= .venv
STAMP := $(VENV)/.install-stamp
INSTALL_INPUTS := scripts/install.sh requirements/constraints.txt requirements/dev.txt \
	$(wildcard libs/*/pyproject.toml services/*/pyproject.toml)

.PHONY: install run test lint typecheck model clean

install: $(STAMP)

$(STAMP): $(INSTALL_INPUTS)
	VENV=$(VENV) ./scripts/install.sh
	touch $(STAMP)

run: install
	$(VENV)/bin/attesta-devnet up

test: install
	$(VENV)/bin/python -m pytest

model: install
	$(VENV)/bin/attesta-model prepare

lint: install
	$(VENV)/bin/ruff check libs services tests bench
	$(VENV)/bin/ruff format --check libs services tests bench

typecheck: install
	$(VENV)/bin/mypy -p attesta_common -p attesta_engine -p attesta_devnet -p attesta_gateway \
		-p attesta_executor -p attesta_validator -p attesta_chain_writer -p attesta_settler

clean:
	rm -rf .data

.PHONY: bench-e2e
bench-e2e: install
	$(VENV)/bin/python -m bench.e2e_latency

.PHONY: bench-anchoring
bench-anchoring: install
	$(VENV)/bin/python -m bench.anchoring

VLLM_VENV := .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.install-stamp
VLLM_ENV := VLLM_CPU_KVCACHE_SPACE=1 HF_HUB_OFFLINE=1

$(VLLM_STAMP): scripts/install_vllm.sh $(wildcard libs/*/pyproject.toml services/*/pyproject.toml)
	./scripts/install_vllm.sh
	touch $(VLLM_STAMP)

.PHONY: install-vllm test-vllm bench-drift
install-vllm: $(VLLM_STAMP)

# vLLM (CPU) in its own environment: the engine contract suite and an executor on vLLM.
test-vllm: install install-vllm
	$(VLLM_ENV) ATTESTA_REQUIRE_VLLM=1 $(VLLM_VENV)/bin/python -m pytest -p no:cacheprovider \
		tests/engine tests/integration/executor/test_executor_vllm.py

bench-drift: install install-vllm
	$(VLLM_ENV) $(VLLM_VENV)/bin/python -m bench.engine_drift

# Honest controls where vLLM and the reference engine check each other's work.
.PHONY: bench-detection-vllm
bench-detection-vllm: install install-vllm
	$(VLLM_ENV) SAMPLES=$${SAMPLES:-0} KINDS=$${KINDS:-vllm->reference,reference->vllm} \
		$(VLLM_VENV)/bin/python -m bench.detection

.PHONY: bench-economics
bench-economics: install
	$(VENV)/bin/python -m bench.economics

.PHONY: bench-detection
bench-detection: install
	$(VENV)/bin/python -m bench.detection

.PHONY: bench-overhead
bench-overhead: install
	$(VENV)/bin/python -m bench.overhead

# The bus with the services' runtime choices (uvloop, httptools, key cache, sampling) off
# and on, alternately.
.PHONY: bench-overhead-runtime
bench-overhead-runtime: install
	$(VENV)/bin/python -m bench.overhead_runtime

# The bus of another revision (REV; default the start of the 2026-12-07 bus work) beside
# the working tree, or beside revision CURRENT (then REV is needed too), alternately.
.PHONY: bench-overhead-versions
bench-overhead-versions: install
	$(VENV)/bin/python -m bench.overhead_versions $(REV) $(CURRENT)

# The sequential latency of REV beside CURRENT (or the working tree), both networks up at
# once and their requests interleaved in blocks (REQUESTS per side, BLOCK): steadier than
# alternating whole rounds on this shared host.
bench-overhead-interleaved: install
	$(VENV)/bin/python -m bench.overhead_interleaved $(REV) $(CURRENT)

# The executor's own CPU per request (check, tokenize, instant engine, sign) of REV
# (default HEAD) beside the working tree, alternately: steadier than the whole bus.
.PHONY: bench-executor-work
bench-executor-work: install
	$(VENV)/bin/python -m bench.executor_work $(REV)

# The bus with nats-server on Go's default threads (one per core) beside one thread, the
# devnet's default, alternately (ROUNDS, REQUESTS, SECONDS, CLIENTS).
.PHONY: bench-nats-threads
bench-nats-threads: install
	$(VENV)/bin/python -m bench.overhead_nats_threads

# The throughput and CPU per request of REV beside CURRENT (or the working tree), both
# networks saturated at once (ROUNDS, CLIENTS each, SECONDS): steadier than saturating
# them one after the other on this shared host.
.PHONY: bench-overhead-concurrent
bench-overhead-concurrent: install
	$(VENV)/bin/python -m bench.overhead_concurrent $(REV) $(CURRENT)
