"""The Helm chart renders to valid Kubernetes objects that fit together and fit guard.

Rendered with `helm template` where helm is installed, else with tests/deploy/helmlite.py (helm is
not on the package registries here); either way every object is validated against the Kubernetes
JSON schemas (kubernetes-validate, strict: unknown fields fail).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from guard.detect.rules import BUNDLED_RULES
from tests.deploy.guardcli import known_env_names
from tests.deploy.helmlite import Chart, RenderError

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "guard"
K8S_VERSION = "1.30"
REQUIRED = {
    "database": {"url": "postgresql+psycopg://guard:pw@postgres.db.svc:5432/guard"},
    "ca": {"pem": "-----BEGIN PRIVATE KEY-----\n...\n"},
    "ui": {"secretKey": "k" * 48},
    "fingerprint": {"key": "f" * 48},
}


def rules_values() -> dict:
    spec = importlib.util.spec_from_file_location("rules_values", ROOT / "deploy" / "helm" / "rules-values.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.rules_values(BUNDLED_RULES)


def render(values: dict | None = None) -> list[dict]:
    """All rendered objects, parsed."""
    merged = {**REQUIRED, **(values or {})}
    if shutil.which("helm"):
        vals = CHART.parent / ".test-values.yaml"
        vals.write_text(yaml.safe_dump(merged), encoding="utf-8")
        try:
            out = subprocess.run(
                ["helm", "template", "guard", str(CHART), "-f", str(vals)], capture_output=True, text=True, check=True
            ).stdout
        finally:
            vals.unlink()
        texts = [out]
    else:
        texts = list(Chart(CHART).render(merged).values())
    return [d for t in texts for d in yaml.safe_load_all(t) if d]


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    return render({"rules": rules_values()["rules"]})


def test_when_rendered_then_every_object_passes_the_kubernetes_schema(docs):
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(["ConfigMap", "Deployment", "Deployment", "Deployment", "HorizontalPodAutoscaler",
                            "Secret", "Secret", "Secret", "Secret", "Service", "Service"])  # fmt: skip
    for d in docs:
        kubernetes_validate.validate(d, K8S_VERSION, strict=True)


def test_when_schema_validator_sees_a_typo_then_it_fails():
    # Proof the validator bites: a misspelt field in a real rendered Deployment is rejected.
    dep = by_kind(render(), "Deployment")["guard-proxy"]
    dep["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(dep, K8S_VERSION, strict=True)


def test_when_proxy_rendered_then_several_replicas_behind_a_service_with_cpu_autoscaling(docs):
    dep = by_kind(docs, "Deployment")["guard-proxy"]
    assert dep["spec"]["replicas"] >= 2
    hpa = by_kind(docs, "HorizontalPodAutoscaler")["guard-proxy"]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "guard-proxy"}
    assert hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    # CPU utilisation is relative to requests: without a CPU request the HPA cannot act.
    assert dep["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]


def test_when_services_rendered_then_each_selects_one_deployment_and_a_port_it_exposes(docs):
    deployments = by_kind(docs, "Deployment")
    for name, svc in by_kind(docs, "Service").items():
        selector = svc["spec"]["selector"]
        matches = [
            d for d in deployments.values()
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]  # fmt: skip
        assert len(matches) == 1, name
        ports = {
            p["name"]: p["containerPort"]
            for c in matches[0]["spec"]["template"]["spec"]["containers"]
            for p in c.get("ports", [])
        }
        for sp in svc["spec"]["ports"]:
            assert sp["targetPort"] in ports, (name, sp)


def test_when_deployments_rendered_then_selectors_match_their_pod_labels(docs):
    for name, dep in by_kind(docs, "Deployment").items():
        sel = dep["spec"]["selector"]["matchLabels"]
        assert sel.items() <= dep["spec"]["template"]["metadata"]["labels"].items(), name
    selectors = [
        tuple(sorted(d["spec"]["selector"]["matchLabels"].items())) for d in by_kind(docs, "Deployment").values()
    ]
    assert len(set(selectors)) == len(selectors), "two Deployments would fight over the same pods"


def test_when_rendered_then_pods_run_as_non_root_with_a_read_only_root(docs):
    for name, dep in by_kind(docs, "Deployment").items():
        spec = dep["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        for c in spec.get("initContainers", []) + spec["containers"]:
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, (name, c["name"])
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, (name, c["name"])


def test_when_rendered_then_postgresql_is_external_and_reached_through_a_secret(docs):
    images = [
        c["image"] for d in by_kind(docs, "Deployment").values() for c in d["spec"]["template"]["spec"]["containers"]
    ]
    assert not any("postgres" in i for i in images)
    assert not [d for d in docs if d["kind"] == "StatefulSet"]
    for name, dep in by_kind(docs, "Deployment").items():
        env = {e["name"]: e for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["GUARD_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "guard-database", "key": "url"}, name
    assert "url" in by_kind(docs, "Secret")["guard-database"]["data"]


def test_when_rendered_then_every_proxy_replica_gets_the_one_ca_from_a_secret(docs):
    pod = by_kind(docs, "Deployment")["guard-proxy"]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["ca-secret"]["secret"]["secretName"] == "guard-ca"
    assert "mitmproxy-ca.pem" in by_kind(docs, "Secret")["guard-ca"]["data"]
    [init] = pod["initContainers"]
    mounts = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
    assert init["command"][-2].startswith(mounts["ca-secret"]) and init["command"][-1].startswith(mounts["ca"])
    proxy = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in proxy["env"]}
    assert {m["name"]: m["mountPath"] for m in proxy["volumeMounts"]}["ca"] == env["GUARD_CONFDIR"]


def test_when_replicas_run_then_they_share_one_fingerprint_key_from_a_secret(docs):
    env = {
        e["name"]: e
        for e in by_kind(docs, "Deployment")["guard-proxy"]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["GUARD_FINGERPRINT_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "guard-fingerprint", "key": "key"}
    assert "key" in by_kind(docs, "Secret")["guard-fingerprint"]["data"]


def test_when_rules_given_then_configmap_mounts_back_into_the_exact_rules_tree(docs, tmp_path):
    cm = by_kind(docs, "ConfigMap")["guard-rules"]
    pod = by_kind(docs, "Deployment")["guard-proxy"]["spec"]["template"]["spec"]
    items = {v["name"]: v for v in pod["volumes"]}["rules"]["configMap"]["items"]
    # Rebuild the directory a kubelet would project, then check guard accepts it and nothing changed.
    for item in items:
        target = tmp_path / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(cm["data"][item["key"]], encoding="utf-8")
    for src in BUNDLED_RULES.rglob("*"):
        if src.is_file() and "__pycache__" not in src.parts:
            assert (tmp_path / src.relative_to(BUNDLED_RULES)).read_text(encoding="utf-8") == src.read_text(
                encoding="utf-8"
            )
    p = subprocess.run(
        [str(ROOT / ".venv/bin/guard"), "rules", "check", "--rules", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    mount = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}["rules"]
    assert env["GUARD_RULES"] == mount


def test_when_no_rules_given_then_the_image_rules_are_used_and_no_configmap_rendered():
    docs = render()
    assert not by_kind(docs, "ConfigMap")
    env = {
        e["name"]
        for e in by_kind(docs, "Deployment")["guard-proxy"]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert "GUARD_RULES" not in env


def test_when_env_names_rendered_then_guard_reads_every_one(docs):
    known = known_env_names()
    for name, dep in by_kind(docs, "Deployment").items():
        for c in dep["spec"]["template"]["spec"]["containers"]:
            unknown = {e["name"] for e in c["env"]} - known
            assert not unknown, (name, unknown)


@pytest.mark.parametrize(
    ("missing", "message"),
    [("database", "database.url"), ("ca", "ca.pem"), ("ui", "ui.secretKey"), ("fingerprint", "fingerprint.key")],
)
def test_when_a_required_value_is_missing_then_rendering_fails_naming_it(missing, message):
    values = {k: v for k, v in REQUIRED.items() if k != missing}
    with pytest.raises(RenderError, match=message.replace(".", r"\.")):
        Chart(CHART).render(values)


def test_when_existing_secrets_named_then_chart_creates_none_and_references_them():
    docs = render({
        "database": {"existingSecret": "corp-guard-db"},
        "ca": {"existingSecret": "corp-guard-ca"},
        "ui": {"existingSecret": "corp-guard-ui"},
        "fingerprint": {"existingSecret": "corp-guard-fp"},
    })  # fmt: skip
    assert not by_kind(docs, "Secret")
    proxy = by_kind(docs, "Deployment")["guard-proxy"]["spec"]["template"]["spec"]
    assert {v["name"]: v for v in proxy["volumes"]}["ca-secret"]["secret"]["secretName"] == "corp-guard-ca"
    env = {e["name"]: e for e in proxy["containers"][0]["env"]}
    assert env["GUARD_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "corp-guard-db"
    assert env["GUARD_FINGERPRINT_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "corp-guard-fp"


def test_when_autoscaling_and_ui_and_exporter_are_disabled_then_only_the_proxy_remains():
    docs = render(
        {"proxy": {"autoscaling": {"enabled": False}}, "ui": {"enabled": False}, "exporter": {"enabled": False}}
    )
    assert sorted(by_kind(docs, "Deployment")) == ["guard-proxy"]
    assert not by_kind(docs, "HorizontalPodAutoscaler")


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (helm's strict YAML does; PyYAML keeps the last)."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict:
    keys = [loader.construct_object(k, deep=True) for k, _ in node.value]
    dupes = {k for k in keys if keys.count(k) > 1}
    if dupes:
        raise yaml.constructor.ConstructorError(None, None, f"duplicate keys {sorted(dupes)}", node.start_mark)
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def test_when_values_and_rendered_objects_are_parsed_strictly_then_no_key_is_duplicated():
    yaml.load((CHART / "values.yaml").read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506
    for text in Chart(CHART).render(REQUIRED).values():
        list(yaml.load_all(text, Loader=_UniqueKeyLoader))  # noqa: S506


def test_when_probed_then_the_proxy_answers_livez_on_its_metrics_port(docs):
    pod = by_kind(docs, "Deployment")["guard-proxy"]["spec"]["template"]["spec"]
    ports = {p["name"]: p["containerPort"] for p in pod["containers"][0]["ports"]}
    for probe in ("readinessProbe", "livenessProbe"):
        get = pod["containers"][0][probe]["httpGet"]
        assert get["path"] == "/livez" and get["port"] in ports
    args = pod["containers"][0]["args"]
    assert args[args.index("--metrics-port") + 1] == str(ports["metrics"])
    assert args[args.index("--metrics-host") + 1] == "0.0.0.0"
