"""The Kubernetes chart, images and hub configuration, checked without a cluster.

The whole release is rendered offline (helm-python-sdk): sabaq's chart with the vendored
Zero to JupyterHub 4.4.0 chart as its `jupyterhub` dependency, copied together into a
temporary folder, once per example values file. sabaq's values for the subchart are checked
against that chart's values.schema.json, every manifest against the Kubernetes schemas, and
the hub's configuration is built as the hub pod builds it: Zero to JupyterHub's
jupyterhub_config.py and z2jh.py, read from the rendered ConfigMap and Secret laid out at the
pod's mount paths under a temporary root, then sabaq's hub.extraConfig. KubeSpawner builds
pod manifests from that configuration with a kubeconfig that points nowhere.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import functools
import json
import os
import re
import sys
import tomllib
import types
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "sabaq"
EXAMPLES = sorted((CHART / "examples").glob("*.yaml"))
# beside the checkout, read-only: never written to, never committed
VENDOR = ROOT.parent / "shared" / "vendor" / "jupyterhub-chart-4.4.0"
K8S_VERSION = "1.32.0"
SETTINGS_DIR = "/usr/local/etc/sabaq"
Z2JH_DIR = "/usr/local/etc/jupyterhub/"


def _copy_tree(src: Path, dst: Path, skip: tuple[str, ...] = ()) -> None:
    """Files only, without their modes (the vendored copy is read-only)."""
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if path.is_file() and not (rel.parts and rel.parts[0] in skip):
            target = dst / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """helm/sabaq with the vendored chart as charts/jupyterhub, as `helm dependency update` leaves it."""
    if not (VENDOR / "Chart.yaml").is_file():
        pytest.fail(f"the vendored Zero to JupyterHub chart is missing: {VENDOR}")
    chart_yaml = yaml.safe_load((CHART / "Chart.yaml").read_text())
    vendor_yaml = yaml.safe_load((VENDOR / "Chart.yaml").read_text())
    assert [(d["name"], d["version"]) for d in chart_yaml["dependencies"]] == [(vendor_yaml["name"],
                                                                                vendor_yaml["version"])]
    folder = tmp_path_factory.mktemp("release") / "sabaq"
    _copy_tree(CHART, folder, skip=("charts",))  # a local `helm dependency update` download is not ours
    _copy_tree(VENDOR, folder / "charts" / "jupyterhub")
    return folder


def render(chart_dir: Path, values: dict) -> list[dict]:
    import helm_python

    chart = helm_python.Chart.load(str(chart_dir))
    out = chart.render(values, name="sabaq", namespace="school", is_install=True)
    docs = []
    for template, text in sorted(out.items()):
        if template.endswith(".yaml"):  # not NOTES.txt
            docs += [d for d in yaml.safe_load_all(text) if d]
    return docs


@pytest.fixture(scope="module")
def renders(release):
    """Each example rendered once for the whole module."""
    cache: dict[str, tuple[str, dict, list[dict]]] = {}

    def get(name: str):
        if name not in cache:
            values = yaml.safe_load((CHART / "examples" / name).read_text())
            cache[name] = (name, values, render(release, values))
        return cache[name]

    return get


def by_kind(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert found, (kind, name)
    return found[0] if name else found


@pytest.fixture(scope="module", params=[p.name for p in EXAMPLES])
def example(request, renders):
    return renders(request.param)


def deep_merge(base: dict, override: dict) -> dict:
    """Helm's coalescing of values: maps merge, anything else replaces, null deletes."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def without_nulls(value):
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    return [without_nulls(v) for v in value] if isinstance(value, list) else value


@functools.cache
def _chart_defaults() -> dict:
    ours = yaml.safe_load((CHART / "values.yaml").read_text())
    return deep_merge(yaml.safe_load((VENDOR / "values.yaml").read_text()), ours["jupyterhub"])


def jupyterhub_values(example_values: dict) -> dict:
    """What the jupyterhub subchart gets: its defaults, then sabaq's values.yaml, then the example's."""
    return deep_merge(_chart_defaults(), example_values.get("jupyterhub") or {})


def decoded(secret: dict) -> dict[str, str]:
    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    return {**data, **(secret.get("stringData") or {})}


def rendered_hub_values(docs) -> dict:
    """The values the hub reads at run time (z2jh.get_config): the hub Secret's values.yaml."""
    return yaml.safe_load(decoded(by_kind(docs, "Secret", "hub"))["values.yaml"])


def container_of(docs, kind, name) -> tuple[dict, dict]:
    pod = by_kind(docs, kind, name)["spec"]["template"]["spec"]
    return pod, pod["containers"][0]


def lay_out_pod(docs, kind, name, root: Path) -> dict[str, str]:
    """A workload's first container as the kubelet would start it, under root: its ConfigMap and
    Secret volumes written at their mount paths from the rendered release, other volumes as
    empty folders. Returns its environment (secrets resolved from the rendered Secrets,
    Kubernetes' *_SERVICE_HOST/PORT variables, paths inside a mount moved under root)."""
    pod, container = container_of(docs, kind, name)
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = container.get("volumeMounts", [])
    for mount in mounts:
        volume = volumes[mount["name"]]  # a mount of an undeclared volume would not start
        target = root / mount["mountPath"].lstrip("/")
        if "configMap" in volume:
            files = by_kind(docs, "ConfigMap", volume["configMap"]["name"])["data"]
        elif "secret" in volume:
            files = decoded(by_kind(docs, "Secret", volume["secret"]["secretName"]))
        else:
            target.mkdir(parents=True, exist_ok=True)
            continue
        if "subPath" in mount:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(files[mount["subPath"]])
            continue
        target.mkdir(parents=True, exist_ok=True)
        for key, text in files.items():
            (target / key).write_text(text)

    env: dict[str, str] = {}
    if pod.get("enableServiceLinks", True):
        for service in by_kind(docs, "Service"):
            prefix = service["metadata"]["name"].upper().replace("-", "_")
            env[f"{prefix}_SERVICE_HOST"] = service["metadata"]["name"]
            env[f"{prefix}_SERVICE_PORT"] = str(service["spec"]["ports"][0]["port"])
    for var in container.get("env", []):
        if "value" in var:
            value = str(var["value"])
            for mount in mounts:
                if value == mount["mountPath"].rstrip("/") or value.startswith(mount["mountPath"].rstrip("/") + "/"):
                    value = str(root) + value
                    break
        elif "secretKeyRef" in var["valueFrom"]:
            ref = var["valueFrom"]["secretKeyRef"]
            value = decoded(by_kind(docs, "Secret", ref["name"]))[ref["key"]]
        else:
            assert var["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
            value = "school"
        env[var["name"]] = value
    return env


def hub_configuration(docs, root: Path, extra_env: dict | None = None):
    """The traitlets Config the hub pod builds: Zero to JupyterHub's jupyterhub_config.py
    (which ends by running hub.extraConfig) with its files read from root instead of /."""
    from tornado.httpclient import AsyncHTTPClient
    from traitlets.config import Config

    env = {**lay_out_pod(docs, "Deployment", "hub", root), **(extra_env or {})}
    etc = root / Z2JH_DIR.lstrip("/")

    def rooted(path: Path) -> str:
        return path.read_text().replace(Z2JH_DIR, f"{etc}/")

    c = Config()
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("SABAQ_"):  # the test runner's own settings stay out of the pod
                mp.delenv(key)
        for key, value in env.items():
            mp.setenv(key, value)
        mp.setattr(sys, "path", list(sys.path))
        # the chart's own files, run as the hub runs them
        z2jh = types.ModuleType("z2jh")
        exec(compile(rooted(etc / "z2jh.py"), str(etc / "z2jh.py"), "exec"), z2jh.__dict__)  # noqa: S102
        mp.setitem(sys.modules, "z2jh", z2jh)
        # the hub image has pycurl; here the choice of HTTP client must not leak into other tests
        mp.setattr(AsyncHTTPClient, "configure", classmethod(lambda cls, impl, **kwargs: None))
        config_py = etc / "jupyterhub_config.py"
        exec(compile(rooted(config_py), str(config_py), "exec"),  # noqa: S102
             {"__file__": str(config_py), "__name__": "jupyterhub_config", "get_config": lambda: c})
    return c


@pytest.fixture(scope="module")
def hub(example, tmp_path_factory):
    _, _, docs = example
    return hub_configuration(docs, tmp_path_factory.mktemp("hub-pod"))


def test_examples_exist():
    assert {p.name for p in EXAMPLES} == {"small-school.yaml", "district.yaml", "load-test.yaml"}


def test_values_for_jupyterhub_match_its_schema(example):
    import jsonschema

    schema = json.loads((VENDOR / "values.schema.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    _, values, docs = example
    merged = jupyterhub_values(values)
    # what is checked is what the subchart was rendered with (the hub Secret's copy; nulls aside)
    rendered = {k: v for k, v in rendered_hub_values(docs).items() if k not in ("Chart", "Release")}
    assert without_nulls(rendered) == without_nulls(merged)
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(merged)]
    assert errors == []
    # the schema has teeth: a misspelt key is refused, not silently ignored
    typo = deep_merge(merged, {"hub": {"extraconfig": {"sabaq": "pass"}}})
    assert any("extraconfig" in e.message for e in validator.iter_errors(typo))


@pytest.fixture(scope="module")
def kubernetes_schemas():
    """kubernetes-validate reads a kind's schema and the shared definitions from disk on every
    call; read each file once for the module (they are not changed by validating)."""
    import kubernetes_validate.utils

    with pytest.MonkeyPatch.context() as mp:
        cached = functools.cache(kubernetes_validate.utils.schema_contents)
        mp.setattr(kubernetes_validate.utils, "schema_contents", cached)
        yield


def test_every_manifest_is_valid_kubernetes(example, kubernetes_schemas):
    import kubernetes_validate

    _, values, docs = example
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    whole_release = {("Deployment", "hub"), ("Deployment", "proxy"), ("Service", "proxy-public"),
                     ("Service", "proxy-api"), ("Service", "hub"), ("Secret", "hub"), ("ConfigMap", "hub"),
                     ("NetworkPolicy", "hub"), ("NetworkPolicy", "proxy"), ("NetworkPolicy", "singleuser"),
                     ("Deployment", "sabaq"), ("Service", "sabaq"), ("Deployment", "sabaq-worker"),
                     ("NetworkPolicy", "sabaq-worker"), ("ConfigMap", "sabaq-settings"), ("Secret", "sabaq-secrets"),
                     ("PodDisruptionBudget", "sabaq")}
    assert whole_release <= names, whole_release - names
    if jupyterhub_values(values)["scheduling"]["userPlaceholder"]["enabled"]:
        assert ("StatefulSet", "user-placeholder") in names
    assert (("Ingress", "jupyterhub") in names) == bool(jupyterhub_values(values)["ingress"]["enabled"])


def test_service_is_replicated_probed_and_protected(example):
    _, _, docs = example
    deployment = by_kind(docs, "Deployment", "sabaq")
    assert deployment["spec"]["replicas"] >= 2
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/services/sabaq/health"
    # a hung service (its port still open) fails the liveness probe: /live answers a 503 when the
    # database does not answer within LIVE_SECONDS, which the probe waits out
    live = container["livenessProbe"]
    assert live["httpGet"]["path"] == "/services/sabaq/live"
    from sabaq.hub.service.health import LIVE_SECONDS, router

    assert {"/live", "/health"} <= {r.path for r in router.routes}
    assert live["timeoutSeconds"] > LIVE_SECONDS and live["failureThreshold"] >= 2
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
    """The settings ConfigMap is mounted where every sabaq process looks for it (SABAQ_CONFIG)."""
    from sabaq.settings import Settings

    _, _, docs = example
    text = by_kind(docs, "ConfigMap", "sabaq-settings")["data"]["sabaq.toml"]
    for kind, name in (("Deployment", "hub"), ("Deployment", "sabaq"), ("Deployment", "sabaq-worker"),
                       ("Job", "sabaq-migrate-1")):
        root = tmp_path / name
        env = lay_out_pod(docs, kind, name, root)
        assert env["SABAQ_CONFIG"] == f"{root}{SETTINGS_DIR}/sabaq.toml", name
        assert Path(env["SABAQ_CONFIG"]).read_text() == text, name
        settings = Settings.load(environ=env)
        assert settings.service.url == "http://sabaq:10101", name
        assert Path(settings.data_dir).is_relative_to(root), name  # on a mounted volume, not the image
        _, container = container_of(docs, kind, name)
        mount = next(m for m in container["volumeMounts"] if m["mountPath"] == SETTINGS_DIR)
        assert mount["readOnly"] is True, name
    hub_env = lay_out_pod(docs, "Deployment", "hub", tmp_path / "hub")
    assert hub_env["SABAQ_DATA"] == f"{tmp_path / 'hub'}/srv/jupyterhub/sabaq"  # the hub's persistent volume


def test_hub_runs_sabaqs_setup(example, hub, tmp_path):
    """The hub's configuration as the hub pod builds it: Zero to JupyterHub's, then sabaq's."""
    name, values, docs = example
    extra_config = rendered_hub_values(docs)["hub"]["extraConfig"]
    assert "from sabaq.hub.jupyterhub.hubconfig import configure_kubernetes" in extra_config["sabaq"]
    assert "configure_kubernetes(c, Settings.load())" in extra_config["sabaq"]

    assert hub.JupyterHub.spawner_class == "kubespawner.KubeSpawner"
    services = {s["name"]: s for s in hub.JupyterHub.services}
    sabaq = services["sabaq"]
    assert sabaq["url"] == "http://sabaq:10101" and sabaq["oauth_no_confirm"] is True
    service_env = lay_out_pod(docs, "Deployment", "sabaq", tmp_path / "service")
    assert sabaq["api_token"] == service_env["SABAQ_SERVICE_API_TOKEN"]  # the hub knows the token the service uses
    roles = {r["name"]: r for r in hub.JupyterHub.load_roles}
    assert roles["sabaq-service"]["services"] == ["sabaq"]
    assert "access:services!service=sabaq" in roles["user"]["scopes"]
    if jupyterhub_values(values)["cull"]["enabled"]:  # Zero to JupyterHub's idle culler survives sabaq's setup
        assert "jupyterhub-idle-culler" in services
        assert roles["jupyterhub-idle-culler"]["services"] == ["jupyterhub-idle-culler"]
    assert "access:services!service=sabaq" in hub.KubeSpawner.server_token_scopes
    assert hub.KubeSpawner.environment["SABAQ_SERVICE_URL"] == "http://sabaq:10101/services/sabaq/"
    assert hub.KubeSpawner.image == "ghcr.io/sabaq/singleuser:0.1.0"
    home = [m for m in hub.KubeSpawner.volume_mounts if m["mountPath"] == "/home/jovyan"]
    assert home and any(v["name"] == home[0]["name"] and "persistentVolumeClaim" in v for v in hub.KubeSpawner.volumes)
    expected = {"small-school.yaml": "generic-oauth", "district.yaml": "ltiauthenticator.lti13.auth.LTI13Authenticator",
                "load-test.yaml": "sabaq.hub.jupyterhub.authenticator.SabaqAuthenticator"}[name]
    assert hub.JupyterHub.authenticator_class == expected
    if name == "small-school.yaml":
        assert hub.GenericOAuthenticator.token_url.endswith("/token") and callable(hub.Authenticator.post_auth_hook)


def test_network_paths_to_sabaq(example):
    """The hub and users' servers may reach the service, and the service the hub's API."""
    _, _, docs = example
    service_pod = by_kind(docs, "Deployment", "sabaq")["spec"]["template"]["metadata"]["labels"]
    for policy in ("hub", "singleuser"):
        egress = by_kind(docs, "NetworkPolicy", policy)["spec"]["egress"]
        assert any(rule.get("ports") == [{"port": 10101, "protocol": "TCP"}]
                   and all(service_pod.get(k) == v for k, v in rule["to"][0]["podSelector"]["matchLabels"].items())
                   for rule in egress if rule.get("to") and "podSelector" in rule["to"][0]), policy
    hub_ingress = by_kind(docs, "NetworkPolicy", "hub")["spec"]["ingress"]
    assert any(all(service_pod.get(k) == v for k, v in source["podSelector"]["matchLabels"].items())
               for rule in hub_ingress for source in rule.get("from", []) if "podSelector" in source)


def test_subdomains_reach_the_hub_config_proxy_and_ingress(example, hub, tmp_path):
    """With subdomain_host, users' servers (and services) get their own origin: the hub
    knows the host, the proxy routes by host and the ingress takes the host and its wildcard."""
    name, values, docs = example
    subdomain_host = jupyterhub_values(values)["hub"]["config"]["JupyterHub"].get("subdomain_host", "")
    assert rendered_hub_values(docs)["hub"]["config"]["JupyterHub"].get("subdomain_host", "") == subdomain_host
    assert hub.JupyterHub.get("subdomain_host", "") == subdomain_host
    _, chp = container_of(docs, "Deployment", "proxy")
    assert ("--host-routing" in chp["command"]) == bool(subdomain_host)
    if name == "district.yaml":
        assert subdomain_host == "https://jupyter.district.edu.kz"
    if not subdomain_host:
        return
    host = urlparse(subdomain_host).hostname
    ingress = by_kind(docs, "Ingress", "jupyterhub")["spec"]
    rules = {rule.get("host"): rule["http"]["paths"] for rule in ingress["rules"]}
    assert set(rules) == {host, f"*.{host}"}
    for paths in rules.values():
        assert [(p["path"], p["backend"]["service"]["name"]) for p in paths] == [("/", "proxy-public")]
    assert any({host, f"*.{host}"} <= set(tls["hosts"]) and tls.get("secretName") for tls in ingress["tls"])
    # the names the hub gives a user's server and sabaq's pages: the host or one label under it
    from jupyterhub.utils import subdomain_hook_idna

    hook = hub.JupyterHub.get("subdomain_hook") or subdomain_hook_idna
    for name, kind in (("aliya", "user"), ("sabaq", "service")):
        domain = hook(name, host, kind)
        assert domain == host or (domain.endswith(f".{host}") and "." not in domain[: -len(host) - 1]), domain


def test_sabaq_knows_the_hubs_host(example, tmp_path):
    """sabaq's service is told the hub's subdomain_host (its [hub] host, for a session cookie a
    user's server cannot set); a [hub] host in the settings alone would leave the proxy
    routing by path, so the chart's value must be there and agree."""
    from sabaq.settings import Settings

    _, values, docs = example
    subdomain_host = jupyterhub_values(values)["hub"]["config"]["JupyterHub"].get("subdomain_host", "")
    env = lay_out_pod(docs, "Deployment", "sabaq", tmp_path)
    assert env.get("SABAQ_HUB_HOST", "") == subdomain_host
    settings = Settings.load(environ=env)
    written = tomllib.loads(by_kind(docs, "ConfigMap", "sabaq-settings")["data"]["sabaq.toml"]).get("hub", {})
    if written.get("host"):
        assert subdomain_host, "[hub] host is set but the chart's hub.config.JupyterHub.subdomain_host is not"
    if hasattr(settings, "subdomain_host"):  # [hub] host: new in the settings beside this chart change
        assert settings.subdomain_host == subdomain_host
    if subdomain_host:
        assert urlparse(settings.public_url).hostname == urlparse(subdomain_host).hostname


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
    # kubernetes_asyncio reads KUBECONFIG once, at import (the hub's configuration imports it first)
    monkeypatch.setattr("kubernetes_asyncio.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION", str(path))
    return path


def test_a_student_gets_a_valid_server_pod(example, hub, kubeconfig, kubernetes_schemas):
    """From the hub's whole configuration, a student's server pod is built and is valid
    Kubernetes, with its home on its own volume and the service's address."""
    import kubernetes_validate
    from kubernetes_asyncio.client import ApiClient
    from kubespawner import KubeSpawner

    async def build():
        spawner = KubeSpawner(config=hub, user=FakeUser("aliya", ["nbgrader-ph9"]), _mock=True, namespace="school")
        await spawner.load_user_options()
        manifest = await spawner.get_pod_manifest()
        async with ApiClient() as api:
            return api.sanitize_for_serialization(manifest)

    pod = asyncio.run(build())
    kubernetes_validate.validate({"apiVersion": "v1", "kind": "Pod", **pod}, K8S_VERSION, strict=True)
    container = pod["spec"]["containers"][0]
    assert container["image"].startswith("ghcr.io/sabaq/singleuser:")
    assert "/home/jovyan" in {m["mountPath"] for m in container["volumeMounts"]}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SABAQ_SERVICE_URL"] == "http://sabaq:10101/services/sabaq/"


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


def test_kubespawner_pods_per_course_profile(renders, tmp_path, kubeconfig):
    """Pods as the hub builds them from its whole configuration (Zero to JupyterHub's and
    sabaq's), with a course-materials claim: the home volume stays beside the materials."""
    from kubespawner import KubeSpawner

    _, _, docs = renders("district.yaml")
    c = hub_configuration(docs, tmp_path / "hub-pod", {"SABAQ_KUBERNETES_MATERIALS_CLAIM": "course-materials"})

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
        started = " ".join(_get(hook, "command", "command"))
        assert "sabaq lesson pull" in started
        # a teacher's course folders for nbgrader's formgrader (sabaq.coursefolders), run even when the
        # lessons could not be pulled, and the pod starts whatever they answer
        assert "; sabaq course pull " in started and started.rstrip().endswith("; true")
        mounts = {_get(m, "mount_path", "mountPath"): m for m in container.volume_mounts}
        assert _get(mounts["/home/jovyan/materials"], "read_only", "readOnly") is True
        claims = [_get(v, "persistent_volume_claim", "persistentVolumeClaim") for v in pod.spec.volumes]
        assert any(c and _get(c, "claim_name", "claimName") == "course-materials" and _get(c, "read_only", "readOnly")
                   for c in claims)
        assert "/home/jovyan" in mounts  # the student's own storage (singleuser.storage), kept
        assert any(c and _get(c, "claim_name", "claimName") == "claim-aliya" for c in claims)
        names = by_kind(docs, "ConfigMap", "hub")["data"]  # the release's resource names, as the hub reads them
        assert pod.spec.scheduler_name == names["user-scheduler"]  # the user scheduler the release deploys
        assert names["user-scheduler"] in by_kind(docs, "ConfigMap", "user-scheduler")["data"]["config.yaml"]
        assert pod.spec.priority_class_name == names["priority"]
        by_kind(docs, "PriorityClass", names["priority"])

        ds, pod = await pod_for(["nbgrader-ds11"], profile="ds11")
        assert [p["slug"] for p in await spawner_profiles(ds)] == ["default", "ds11"]
        container = pod.spec.containers[0]
        assert container.image == "ghcr.io/sabaq/singleuser:0.1.0"
        assert container.resources.limits["memory"] == 3 * 2**30 and container.resources.requests["memory"] == 2**30

    asyncio.run(run())


def test_each_pod_is_told_its_users_role(renders, tmp_path, kubeconfig):
    """Pods as the hub builds them from its whole configuration, after its pre-spawn hook: the
    role read from sabaq's database (a teacher, a coach, a student) is in the pod's environment
    (SABAQ_ROLE), which the image's server config reads (tests/unit/test_server_roles.py)."""
    from kubespawner import KubeSpawner

    from sabaq.hub.domain import accounts, courses
    from sabaq.hub.store.database import make_engine, make_sessionmaker, session_scope, upgrade
    from sabaq.hub.store.models import Role

    database = f"sqlite:///{tmp_path / 'sabaq.sqlite'}"
    upgrade(database)
    engine = make_engine(database)
    with session_scope(make_sessionmaker(engine)) as db:
        physics, olympiad = courses.create_course(db, "ph9", "Physics 9"), courses.create_course(db, "olymp", "Olympiad")
        courses.set_member(db, physics, accounts.create_user(db, "aigul"), Role.teacher)
        courses.set_member(db, olympiad, accounts.create_user(db, "coach"), Role.teacher)
        courses.set_member(db, physics, accounts.create_user(db, "aliya"), Role.student)
    engine.dispose()
    _, _, docs = renders("small-school.yaml")
    c = hub_configuration(docs, tmp_path / "hub-pod", {"SABAQ_DATABASE_URL": database})

    async def pod_env(name, groups):
        spawner = KubeSpawner(config=c, user=FakeUser(name, groups), _mock=True, namespace="school")
        await spawner.run_pre_spawn_hook()
        await spawner.load_user_options()
        manifest = await spawner.get_pod_manifest()
        return {e.name: e.value for e in manifest.spec.containers[0].env}

    async def run():
        teacher, coach = await pod_env("aigul", ["formgrade-ph9"]), await pod_env("coach", ["formgrade-olymp"])
        student = await pod_env("aliya", ["nbgrader-ph9"])
        assert teacher["SABAQ_ROLE"] == "staff" and coach["SABAQ_ROLE"] == "staff"
        assert student["SABAQ_ROLE"] == "student"
        assert student["SABAQ_SERVICE_URL"] == "http://sabaq:10101/services/sabaq/"  # the chart's environment kept

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
        assert re.search(r"^FROM \S+:[\w.-]+$", text, re.MULTILINE), f"{image}: base image without a pinned tag"
        assert "/tmp/sabaq-src" in text  # built from this repository
        last_user = [line for line in text.splitlines() if line.startswith("USER ")][-1]
        assert last_user.split()[1] not in ("root", "0")


def test_chart_lints(release):
    import helm_python

    report = helm_python.lint(str(CHART))
    assert report["errors"] == []
    problems = [m for m in report["messages"] if m["severity"] >= 2 and "missing these dependencies" not in m["error"]]
    assert problems == []
    for path in EXAMPLES:  # the whole release, with its dependency, for each example
        report = helm_python.lint(str(release), yaml.safe_load(path.read_text()), strict=True, with_subcharts=True,
                                  kube_version=K8S_VERSION)
        assert report["errors"] == [] and report["messages"] == [], (path.name, report)
