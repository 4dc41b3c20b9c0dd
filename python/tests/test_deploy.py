"""The container and cluster files agree with the server they deploy: the Dockerfile builds the
CLI in one stage and runs it as a non-root user in another; the Deployment probes /health,
asks for as many CPUs as it gives --threads, and the HPA scales that Deployment on a metric
the server really exports."""

import re

import pytest

from conftest import ROOT

yaml = pytest.importorskip("yaml")


def load(name):
    return list(yaml.safe_load_all((ROOT / "deploy" / name).read_text()))


def test_dockerfile_is_multi_stage_and_non_root():
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\w+))?", text, re.M)
    assert len(stages) >= 2 and all("DEBIAN_IMAGE" in s[0] or "bookworm" in s[0] for s in stages)
    assert "--target encore_cli" in text and "COPY --from=build" in text
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert user and not user[-1].startswith("0") and user[-1] != "root"
    assert re.search(r'^ENTRYPOINT \["encore", "serve"\]', text, re.M)


def test_deployment_probes_and_resources_match_the_server():
    (dep,) = [d for d in load("deployment.yaml") if d["kind"] == "Deployment"]
    c = dep["spec"]["template"]["spec"]["containers"][0]
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["path"] == "/health"
    threads = [a.split("=", 1)[1] for a in c["args"] if a.startswith("--threads=")]
    assert threads and c["resources"]["requests"]["cpu"] == threads[0]
    assert dep["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    (svc,) = load("service.yaml")
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]


def test_hpa_scales_on_exported_metrics():
    (hpa,) = load("hpa.yaml")
    (dep,) = [d for d in load("deployment.yaml") if d["kind"] == "Deployment"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"]
    kinds = {m["type"] for m in hpa["spec"]["metrics"]}
    assert kinds == {"Resource", "Pods"}
    metrics_source = (ROOT / "src/serve/metrics.cpp").read_text()
    for m in hpa["spec"]["metrics"]:
        if m["type"] == "Pods":
            name = m["pods"]["metric"]["name"]
            assert f'"{name} "' in metrics_source or f"{name} gauge" in metrics_source, name
    (adapter,) = load("prometheus-adapter-rules.yaml")
    rules = yaml.safe_load(adapter["data"]["config.yaml"])["rules"]
    assert any("encore_queue_depth" in r["seriesQuery"] for r in rules)
