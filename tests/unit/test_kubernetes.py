"""The Kubernetes chart, images and hub configuration, checked without a cluster.

The chart is rendered offline (helm-python-sdk; the Zero to JupyterHub dependency is not
downloaded, so sabaq's own templates are rendered) with each example values file, every
manifest is validated against the Kubernetes schemas, and KubeSpawner builds pod
manifests for each profile with a kubeconfig that points nowhere.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "sabaq"
EXAMPLES = sorted((CHART / "examples").glob("*.yaml"))
K8S_VERSION = "1.32.0"


def render(values: dict) -> list[dict]:
    import helm_python

    chart = helm_python.Chart.load(str(CHART))
    out = chart.render(values, name="sabaq", namespace="school", is_install=True)
    docs = []
    for text in out.values():
        docs += [d for d in yaml.safe_load_all(text) if d]
    return docs


def by_kind(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert found, (kind, name)
    return found[0] if name else found


@pytest.fixture(scope="module", params=[p.name for p in EXAMPLES])
def example(request):
    values = yaml.safe_load((CHART / "examples" / request.param).read_text())
    return request.param, values, render(values)


def test_examples_exist():
    assert {p.name for p in EXAMPLES} == {"small-school.yaml", "district.yaml", "load-test.yaml"}


def test_every_manifest_is_valid_kubernetes(example):
    import kubernetes_validate

    _, _, docs = example
    assert len(docs) >= 8
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_service_is_replicated_probed_and_protected(example):
    _, values, docs = example
    deployment = by_kind(docs, "Deployment", "sabaq")
    assert deployment["spec"]["replicas"] >= 2
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/services/sabaq/health"
    assert container["livenessProbe"]["httpGet"]["path"] == "/services/sabaq/health"
    assert container["securityContext"]["runAsNonRoot"] is True
    env = {e["name"]: e for e in container["env"]}
    assert env["SABAQ_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "sabaq-secrets"
    assert by_kind(docs, "PodDisruptionBudget", "sabaq")["spec"]["minAvailable"] == 1
    secret = by_kind(docs, "Secret", "sabaq-secrets")
    assert set(secret["data"]) == {"database-url", "service-api-token", "service-cookie-secret", "worker-token"}


def test_workers_are_locked_down(example):
    _, _, docs = example
    worker = by_kind(docs, "Deployment", "sabaq-worker")["spec"]["template"]["spec"]
    assert worker["automountServiceAccountToken"] is False
    container = worker["containers"][0]
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
    assert container["resources"]["requests"] and container["resources"]["limits"]
    names = {e["name"] for e in container["env"]}
    assert "SABAQ_DATABASE_URL" not in names and "SABAQ_SERVICE_API_TOKEN" not in names  # only the worker token
    policy = by_kind(docs, "NetworkPolicy", "sabaq-worker")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"] and policy["ingress"] == []
    targets = [rule["to"][0]["podSelector"]["matchLabels"] for rule in policy["egress"]]
    assert targets[0] == {"app.kubernetes.io/name": "sabaq", "app.kubernetes.io/component": "sabaq-service"}
    assert targets[1] == {"k8s-app": "kube-dns"} and len(targets) == 2


def test_one_settings_file_for_hub_service_and_workers(example, tmp_path):
    from sabaq.settings import Settings

    name, values, docs = example
    config = tmp_path / "sabaq.toml"
    config.write_text(by_kind(docs, "ConfigMap", "sabaq-settings")["data"]["sabaq.toml"])
    settings = Settings.load(data_dir=tmp_path, config_file=config, environ={})
    assert settings.service.url == "http://sabaq:10101"
    for container in (by_kind(docs, "Deployment", "sabaq")["spec"]["template"]["spec"]["containers"][0],
                      by_kind(docs, "Deployment", "sabaq-worker")["spec"]["template"]["spec"]["containers"][0]):
        assert {"name": "SABAQ_CONFIG", "value": "/usr/local/etc/sabaq/sabaq.toml"} in container["env"]
    hub = yaml.safe_load((CHART / "values.yaml").read_text())["jupyterhub"]["hub"]
    assert "configure_kubernetes(c, Settings.load())" in hub["extraConfig"]["sabaq"]
    assert hub["extraEnv"]["SABAQ_CONFIG"] == "/usr/local/etc/sabaq/sabaq.toml"
    assert {"name": "sabaq-settings", "configMap": {"name": "sabaq-settings"}} in hub["extraVolumes"]


def test_hub_configuration_for_each_login_kind(example, tmp_path):
    from traitlets.config import Config

    from sabaq.hub.jupyterhub.hubconfig import configure_kubernetes
    from sabaq.settings import Settings

    name, _, docs = example
    config = tmp_path / "sabaq.toml"
    config.write_text(by_kind(docs, "ConfigMap", "sabaq-settings")["data"]["sabaq.toml"])
    settings = Settings.load(data_dir=tmp_path, config_file=config,
                             environ={"SABAQ_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}"})
    c = Config()
    configure_kubernetes(c, settings)
    assert c.JupyterHub.services[0]["url"] == "http://sabaq:10101"
    assert "access:services!service=sabaq" in c.KubeSpawner.server_token_scopes
    assert c.KubeSpawner.environment["SABAQ_SERVICE_URL"] == "http://sabaq:10101/services/sabaq/"
    expected = {"small-school.yaml": "generic-oauth", "district.yaml": "ltiauthenticator.lti13.auth.LTI13Authenticator",
                "load-test.yaml": "sabaq.hub.jupyterhub.authenticator.SabaqAuthenticator"}[name]
    assert c.JupyterHub.authenticator_class == expected
    if name == "small-school.yaml":
        assert c.GenericOAuthenticator.token_url.endswith("/token") and callable(c.Authenticator.post_auth_hook)


class FakeUser:
    def __init__(self, name, groups):
        self.name = name
        self.id = 7
        self.groups = [SimpleNamespace(name=g) for g in groups]
        self.url = f"/user/{name}/"
        self.admin = False
        self.escaped_name = name
        self.server = SimpleNamespace(base_url=f"/user/{name}/", bind_url=f"http://127.0.0.1:8888/user/{name}/")
        self.orm_user = None
        self.spawners = {}
        self.settings = {}


@pytest.fixture
def kubeconfig(tmp_path, monkeypatch):
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "none",
        "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:1"}}],
        "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}],
        "users": [{"name": "none", "user": {"token": "x"}}],
    }))
    monkeypatch.setenv("KUBECONFIG", str(path))
    return path


def test_kubespawner_pods_per_course_profile(tmp_path, kubeconfig):
    from kubespawner import KubeSpawner
    from traitlets.config import Config

    from sabaq.hub.jupyterhub.hubconfig import configure_kubernetes
    from sabaq.settings import Settings

    values = yaml.safe_load((CHART / "examples" / "district.yaml").read_text())
    docs = render(values)
    config_file = tmp_path / "sabaq.toml"
    config_file.write_text(by_kind(docs, "ConfigMap", "sabaq-settings")["data"]["sabaq.toml"])
    settings = Settings.load(data_dir=tmp_path, config_file=config_file,
                             environ={"SABAQ_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}",
                                      "SABAQ_KUBERNETES_MATERIALS_CLAIM": "course-materials"})
    c = Config()
    configure_kubernetes(c, settings)

    async def pod_for(groups, profile=None):
        spawner = KubeSpawner(config=c, user=FakeUser("aliya", groups), _mock=True, namespace="school")
        spawner.user_options = {"profile": profile} if profile else {}
        await spawner.load_user_options()
        return spawner, await spawner.get_pod_manifest()

    async def run():
        student, pod = await pod_for(["nbgrader-ph9"])
        offered = await spawner_profiles(student)
        assert [p["slug"] for p in offered] == ["default"]  # not in ds11: only the default
        container = pod.spec.containers[0]
        assert float(container.resources.limits["cpu"]) == 1.0 and container.resources.limits["memory"] == 2**30  # KubeSpawner reads G as GiB
        env = {e.name: e.value for e in container.env}
        assert env["SABAQ_SERVICE_URL"] == "http://sabaq:10101/services/sabaq/"
        hook = _get(_get(container.lifecycle, "post_start", "postStart"), "_exec", "exec")
        assert "sabaq lesson pull" in " ".join(_get(hook, "command", "command"))
        mounts = {_get(m, "mount_path", "mountPath"): m for m in container.volume_mounts}
        assert _get(mounts["/home/jovyan/materials"], "read_only", "readOnly") is True
        claims = [_get(v, "persistent_volume_claim", "persistentVolumeClaim") for v in pod.spec.volumes]
        assert any(c and _get(c, "claim_name", "claimName") == "course-materials" and _get(c, "read_only", "readOnly")
                   for c in claims)

        ds, pod = await pod_for(["nbgrader-ds11"], profile="ds11")
        assert [p["slug"] for p in await spawner_profiles(ds)] == ["default", "ds11"]
        container = pod.spec.containers[0]
        assert container.image == "ghcr.io/sabaq/singleuser:0.1.0"
        assert container.resources.limits["memory"] == 3 * 2**30 and container.resources.requests["memory"] == 2**30

    asyncio.run(run())


def _get(obj, attr, key):
    """KubeSpawner mixes client objects and plain dicts from the configuration."""
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, attr)


async def spawner_profiles(spawner):
    return spawner.profile_list(spawner)


def _pins(text: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2) for m in re.finditer(r'"?([A-Za-z0-9_.\[\]-]+)==([0-9][^"\s]*)"?', text)}


def test_dockerfiles_pin_the_projects_versions_and_run_as_non_root():
    pyproject = _pins((ROOT / "pyproject.toml").read_text())
    assert pyproject["jupyterhub"] == "6.1.1" and pyproject["nbgrader"] == "0.9.6"
    needed = {"hub": {"jupyterhub", "oauthenticator", "jupyterhub-kubespawner", "jupyterhub-ltiauthenticator"},
              "singleuser": {"jupyterlab", "notebook", "nbgrader", "ipywidgets"},
              "grader": {"nbgrader"}}
    for image, packages in needed.items():
        text = (ROOT / "images" / image / "Dockerfile").read_text()
        pins = _pins(text)
        assert packages <= set(pins), (image, packages - set(pins))
        for package, version in pins.items():
            assert pyproject.get(package) == version, (image, package, version, pyproject.get(package))
        assert re.search(r"^FROM \S+:[\w.-]+$", text, re.M), f"{image}: base image without a pinned tag"
        assert "/tmp/sabaq-src" in text  # built from this repository
        last_user = [line for line in text.splitlines() if line.startswith("USER ")][-1]
        assert last_user.split()[1] not in ("root", "0")


def test_chart_lints():
    import helm_python

    report = helm_python.lint(str(CHART))
    assert report["errors"] == []
    problems = [m for m in report["messages"] if m["severity"] >= 2 and "missing these dependencies" not in m["error"]]
    assert problems == []
