"""The generated CRDs on a real API server: a Flagger manifest is accepted after changing only its
apiVersion (nothing pruned), bad specs are refused with HTTP 422 and a message naming the field, and
``kubectl get canaries`` shows Flagger's columns."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from canary.models.canary import Canary
from tests.conftest import Cluster

REPO = Path(__file__).resolve().parents[2]
FLAGGER_CANARY = yaml.safe_load((Path(__file__).parent / "fixtures" / "flagger-canary.yaml").read_text())


_REPO_URL = "https://git.example/acme/config.git"
_CHAIN: dict[str, Any] = {
    "repository": {"url": _REPO_URL},
    "path": "a",
    "environment": "dev",
    "environments": [{"name": "dev", "path": "a"}, {"name": "prod", "path": "b"}],
}


def converted() -> dict[str, Any]:
    body = copy.deepcopy(FLAGGER_CANARY)
    assert body["apiVersion"] == "flagger.app/v1beta1"
    body["apiVersion"] = "canary.dev/v1alpha1"
    return body


def create(cluster: Cluster, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    api = client.CustomObjectsApi(cluster.api)
    result: dict[str, Any] = api.create_namespaced_custom_object(
        "canary.dev", "v1alpha1", namespace, "canaries", body
    )
    return result


def test_flagger_manifest_is_accepted_after_changing_its_api_version(
    cluster: Cluster, namespace: str, crds: None
) -> None:
    body = converted()
    created = create(cluster, namespace, body)
    # Nothing was pruned: every Flagger field the manifest uses exists in our schema.
    assert created["spec"] == body["spec"]
    parsed = Canary.model_validate(created)
    assert parsed.spec.analysis is not None
    assert parsed.spec.analysis.session_affinity is not None
    assert parsed.spec.analysis.session_affinity.max_age == 21600
    assert parsed.spec.service.target_port == "http"


def test_what_the_model_writes_the_server_accepts_and_reads_back_equal(
    cluster: Cluster, namespace: str, crds: None
) -> None:
    model = Canary.model_validate(converted())
    stored = create(cluster, namespace, model.wire())
    assert Canary.model_validate(stored).spec == model.spec


def _set(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    node = body
    keys = path.split(".")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    if value is None:
        node.pop(keys[-1], None)
    else:
        node[keys[-1]] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("spec.provider", "consul", "spec.provider"),
        ("spec.targetRef.kind", "StatefulSet", "spec.targetRef.kind"),
        ("spec.targetRef", None, "spec.targetRef"),
        ("spec.service.port", 70000, "spec.service.port"),
        ("spec.analysis.interval", "5min", "spec.analysis.interval"),
        ("spec.analysis.stepWeight", 120, "spec.analysis.stepWeight"),
        ("spec.analysis.stepWeights", [50, 10], "spec.analysis.stepWeights"),
        ("spec.analysis.sessionAffinity", {"cookieName": "a", "primaryCookieName": "a"}, "primaryCookieName"),
        ("spec.service.match", [{"uri": {"prefix": "/", "exact": "/x"}}], "spec.service.match[0].uri"),
        ("spec.analysis.webhooks", [{"name": "x", "url": "ftp://x"}], "spec.analysis.webhooks[0].url"),
        (
            "spec.analysis.webhooks",
            [{"name": "x", "url": "http://x", "type": "pre"}],
            "spec.analysis.webhooks[0].type",
        ),
        (
            "spec.analysis.alerts",
            [{"name": "a", "severity": "fatal", "providerRef": {"name": "p"}}],
            "severity",
        ),
        ("spec.gitops", {"repository": {"url": "config"}, "path": "a"}, "spec.gitops.repository.url"),
        ("spec.gitops", {"repository": {"url": _REPO_URL}, "path": "a/../../etc"}, "spec.gitops.path"),
        ("spec.gitops", {"repository": {"url": _REPO_URL}, "path": "a", "onRollback": "reset"}, "onRollback"),
        (
            "spec.gitops",
            {"repository": {"url": _REPO_URL}, "path": "a", "onRollback": "pullRequest"},
            "spec.gitops.forge",
        ),
        (
            "spec.gitops",
            {"repository": {"url": _REPO_URL}, "path": "a", "promote": {"path": "b", "mode": "pullRequest"}},
            "spec.gitops.forge",
        ),
        (
            "spec.gitops",
            {**_CHAIN, "promote": {"path": "b"}},
            "name either promote (one next environment) or environments (a chain)",
        ),
        ("spec.gitops", {**_CHAIN, "environment": None}, "spec.gitops.environment"),
        ("spec.gitops", {**_CHAIN, "environment": "prod"}, "whose path is spec.gitops.path"),
        (
            "spec.gitops",
            {**_CHAIN, "environments": [*_CHAIN["environments"][:2], {"name": "dev", "path": "c"}]},
            "spec.gitops.environments[2]",
        ),
        (
            "spec.gitops",
            {
                **_CHAIN,
                "environments": [
                    _CHAIN["environments"][0],
                    {"name": "prod", "path": "b", "mode": "pullRequest"},
                ],
            },
            "spec.gitops.forge",
        ),
        (
            "spec.gitops",
            {**_CHAIN, "environments": [{"name": "Dev", "path": "a"}, {"name": "prod", "path": "b"}]},
            "spec.gitops.environments[0].name",
        ),
        (
            "spec.gitops",
            {
                **_CHAIN,
                "environments": [
                    _CHAIN["environments"][0],
                    {"name": "prod", "path": "b", "helmValues": [{"image": "image", "tag": "image.tag"}]},
                ],
            },
            "name either image (the whole reference in one key) or repository/tag/digest keys",
        ),
    ],
)
def test_invalid_spec_is_refused_with_422_naming_the_field(
    cluster: Cluster, namespace: str, crds: None, path: str, value: Any, field: str
) -> None:
    body = _set(converted(), path, value)
    with pytest.raises(client.ApiException) as err:
        create(cluster, namespace, body)
    assert err.value.status == 422
    assert field in json.loads(err.value.body)["message"]


def test_a_promotion_chain_is_accepted_and_read_back(cluster: Cluster, namespace: str, crds: None) -> None:
    chain = {
        **_CHAIN,
        "environments": [
            {"name": "dev", "path": "a"},
            {
                "name": "staging",
                "path": "b",
                "helmValues": [{"repository": "app.image.repo", "tag": "app.image.tag"}],
            },
            {"name": "prod", "path": "c", "repository": {"url": _REPO_URL, "branch": "prod"}},
        ],
    }
    stored = create(cluster, namespace, _set(converted(), "spec.gitops", chain))
    gitops = Canary.model_validate(stored).spec.gitops
    assert gitops is not None
    assert [e.name for e in gitops.environments or []] == ["dev", "staging", "prod"]
    after_dev = gitops.next_environment()
    assert after_dev is not None
    assert after_dev.path == "b"
    assert after_dev.helm_values
    assert after_dev.helm_values[0].tag == "app.image.tag"


def test_analysis_without_a_way_to_move_weights_is_refused(
    cluster: Cluster, namespace: str, crds: None
) -> None:
    body = converted()
    for key in ("stepWeight", "iterations", "match"):
        body["spec"]["analysis"].pop(key)
    with pytest.raises(client.ApiException) as err:
        create(cluster, namespace, body)
    assert err.value.status == 422
    assert (
        "set iterations (A/B testing, blue/green), stepWeight or stepWeights"
        in json.loads(err.value.body)["message"]
    )


def test_kubectl_shows_flagger_columns(cluster: Cluster, namespace: str, crds: None) -> None:
    create(cluster, namespace, converted())
    header = cluster.kubectl("get", "canaries", "-n", namespace).stdout.splitlines()[0].split()
    assert header == ["NAME", "STATUS", "WEIGHT", "LASTTRANSITIONTIME", "AGE"]
    wide = cluster.kubectl("get", "canaries", "-n", namespace, "-o", "wide").stdout.splitlines()[0].split()
    for column in ("FAILEDCHECKS", "INTERVAL", "STEPWEIGHT", "MAXWEIGHT", "SUSPENDED", "MIRROR"):
        assert column in wide
    explain = cluster.kubectl("explain", "canary.spec.analysis.interval").stdout
    assert "at least 10s" in explain
