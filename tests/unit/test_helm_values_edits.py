"""Promoted images written into Helm values (a HelmRelease's spec.values, or a values file): the keys
found by shape or named by promote.helmValues, every other byte kept, and the shapes that cannot be
edited safely refused with the place named."""

from __future__ import annotations

import pytest

from canary.adapters.gitops.helmvalues import set_release_images, set_values_file_images
from canary.adapters.gitops.manifests import ManifestError
from canary.models.crd import all_crds
from canary.models.gitops import HelmValuesImage

RELEASE = """# web in production
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
spec:
  interval: 10m
  chart:
    spec: {chart: ./charts/web, sourceRef: {kind: GitRepository, name: config}}
  values:
    replicaCount: 3   # production size
    image:
      repository: ghcr.io/acme/web
      tag: '1.0.0' # promoted by canary
      pullPolicy: IfNotPresent
    sidecar:
      image:
        repository: ghcr.io/acme/proxy
        tag: "2.0"
"""

PROMOTED = {"web": "ghcr.io/acme/web:1.1.0"}


def keys(*entries: dict[str, str]) -> list[HelmValuesImage]:
    return [HelmValuesImage.model_validate(e) for e in entries]


def test_the_common_layout_is_found_and_only_the_tag_changes() -> None:
    edit = set_release_images(RELEASE, PROMOTED, None)
    assert edit.text == RELEASE.replace("tag: '1.0.0' # promoted", "tag: '1.1.0' # promoted")
    assert edit.changed == ["HelmRelease/web spec.values image.tag: 1.0.0 -> 1.1.0"]
    assert edit.found == 1


def test_already_there_is_found_and_unchanged() -> None:
    edit = set_release_images(RELEASE, {"web": "ghcr.io/acme/web:1.0.0"}, None)
    assert (edit.text, edit.changed, edit.found) == (RELEASE, [], 1)


def test_an_image_no_key_names_is_not_found() -> None:
    edit = set_release_images(RELEASE, {"web": "ghcr.io/acme/other:9"}, None)
    assert (edit.text, edit.found) == (RELEASE, 0)


def test_two_promoted_images_each_go_to_their_repository() -> None:
    edit = set_release_images(
        RELEASE, {"web": "ghcr.io/acme/web:1.1.0", "proxy": "ghcr.io/acme/proxy:2.1"}, None
    )
    assert 'tag: "2.1"' in edit.text  # double quotes kept
    assert "tag: '1.1.0' # promoted by canary" in edit.text
    assert edit.found == 2


def test_registry_and_repository_are_joined_and_a_plain_number_tag_is_quoted() -> None:
    values = "image:\n  registry: docker.io\n  repository: bitnami/nginx\n  tag: 1.25\n"
    edit = set_values_file_images(values, {"nginx": "docker.io/bitnami/nginx:1.26"}, None)
    assert edit.text == "image:\n  registry: docker.io\n  repository: bitnami/nginx\n  tag: '1.26'\n"


def test_a_whole_reference_under_image_is_replaced() -> None:
    values = "web:\n  image: ghcr.io/acme/web:1.0.0  # the chart splits nothing\n  port: 9898\n"
    edit = set_values_file_images(values, PROMOTED, None)
    assert edit.text == "web:\n  image: ghcr.io/acme/web:1.1.0  # the chart splits nothing\n  port: 9898\n"


def test_a_missing_tag_is_added_beside_the_repository() -> None:
    values = "image:\n  repository: ghcr.io/acme/web   # tag: the chart's appVersion\n  pullPolicy: Always\n"
    edit = set_values_file_images(values, PROMOTED, None)
    assert edit.text == (
        "image:\n  repository: ghcr.io/acme/web   # tag: the chart's appVersion\n"
        "  tag: 1.1.0\n  pullPolicy: Always\n"
    )


def test_a_digest_goes_into_the_digest_key_or_after_the_tag() -> None:
    digest = "sha256:" + "a" * 64
    ref = f"ghcr.io/acme/web:1.1.0@{digest}"
    with_key = "image:\n  repository: ghcr.io/acme/web\n  tag: 1.0.0\n  digest: ''\n"
    assert set_values_file_images(with_key, {"web": ref}, None).text == (
        f"image:\n  repository: ghcr.io/acme/web\n  tag: 1.1.0\n  digest: '{digest}'\n"
    )
    without = "image:\n  repository: ghcr.io/acme/web\n  tag: 1.0.0\n"
    assert set_values_file_images(without, {"web": ref}, None).text == (
        f"image:\n  repository: ghcr.io/acme/web\n  tag: 1.1.0@{digest}\n"
    )
    # and a stale digest is cleared when the promoted image has none
    stale = f"image:\n  repository: ghcr.io/acme/web\n  tag: 1.0.0\n  digest: '{digest}'\n"
    assert set_values_file_images(stale, PROMOTED, None).text == (
        "image:\n  repository: ghcr.io/acme/web\n  tag: 1.1.0\n  digest: ''\n"
    )


def test_named_keys_take_the_named_container_even_a_new_repository() -> None:
    values = (
        "app:\n  img:\n    repo: ghcr.io/acme/web-old\n    version: 1.0.0\n"
        "proxy:\n  ref: ghcr.io/acme/proxy:2.0\n"
    )
    promoted = {"web": "ghcr.io/acme/web:1.1.0", "proxy": "ghcr.io/acme/proxy:2.1"}
    spec = keys(
        {"container": "web", "repository": "app.img.repo", "tag": "app.img.version"}, {"image": "proxy.ref"}
    )
    edit = set_values_file_images(values, promoted, spec)
    assert edit.text == (
        "app:\n  img:\n    repo: ghcr.io/acme/web\n    version: 1.1.0\n"
        "proxy:\n  ref: ghcr.io/acme/proxy:2.1\n"
    )
    assert edit.found == 2


def test_named_keys_absent_from_a_document_leave_it_alone_and_ambiguity_is_refused() -> None:
    spec = keys({"repository": "frontend.image.repository", "tag": "frontend.image.tag"})
    assert set_release_images(RELEASE, PROMOTED, spec).found == 0
    values = "frontend:\n  image:\n    repository: ghcr.io/acme/ui\n    tag: 1\n"
    two = {"web": "ghcr.io/acme/web:1.1.0", "proxy": "ghcr.io/acme/proxy:2.1"}
    with pytest.raises(ManifestError, match="name its container"):
        set_values_file_images(values, two, spec)
    with pytest.raises(ManifestError, match="container api, which was not promoted"):
        set_values_file_images(values, two, keys({"container": "api", "tag": "frontend.image.tag"}))


def test_a_flow_style_mapping_is_refused_naming_the_key() -> None:
    values = "image: {repository: ghcr.io/acme/web, tag: 1.0.0}\n"
    with pytest.raises(ManifestError, match=r"values: image.tag: a flow-style mapping"):
        set_values_file_images(values, PROMOTED, None)
    # unchanged is fine
    assert set_values_file_images(values, {"web": "ghcr.io/acme/web:1.0.0"}, None).found == 1


def test_other_kinds_and_api_groups_are_not_values() -> None:
    other = RELEASE.replace("helm.toolkit.fluxcd.io/v2", "example.com/v1")
    assert set_release_images(other, PROMOTED, None).found == 0
    configmap = "apiVersion: v1\nkind: ConfigMap\ndata:\n  image:\n    repository: ghcr.io/acme/web\n"
    assert set_release_images(configmap, PROMOTED, None).found == 0


def test_the_schema_wants_either_a_whole_reference_key_or_split_keys() -> None:
    schema = all_crds()["canaries.yaml"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    item = schema["properties"]["spec"]["properties"]["gitops"]["properties"]["promote"]["properties"][
        "helmValues"
    ]["items"]
    assert item["x-kubernetes-validations"][0]["rule"].startswith("has(self.image) !=")
    with pytest.raises(ValueError, match="pattern"):
        HelmValuesImage.model_validate({"tag": "image..tag"})
