"""The demo's sample config repository, as a team would keep it, and the Flux objects that sync it.

::

    apps/web/base/                 the Deployment every environment starts from
    apps/web/staging/              what Flux applies to the demo cluster: CI bumps the tag here
      deployment.yaml
      canary.yaml                  the Canary (gatewayapi, metrics, the load tester, gitops)
    apps/web/production/           the next environment: canary commits promoted images here
      kustomization.yaml
    flux/image-automation.yaml     Flux image automation for web (the failed tag gets excluded)
"""

from __future__ import annotations

IMAGE = "ghcr.io/acme/web"
STAGING = "apps/web/staging/deployment.yaml"
CANARY = "apps/web/staging/canary.yaml"
PRODUCTION = "apps/web/production/kustomization.yaml"


def deployment(tag: str, comment: str = "web in staging: CI bumps the tag on every release") -> str:
    return manifest(f"{IMAGE}:{tag}", comment)


def manifest(image: str, comment: str = "web in staging: CI bumps the tag on every release") -> str:
    """web's Deployment running ``image``.  No replicas: the controller scales the target, and the
    agent's apply must not undo that."""
    return f"""# {comment}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {{app: web}}
spec:
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
      annotations: {{prometheus.io/scrape: "true", prometheus.io/port: "9898"}}
    spec:
      containers:
        - name: web
          image: {image} # {{"$imagepolicy": "flux-system:web"}}
          ports: [{{name: http, containerPort: 9898}}]
"""


def canary(git_url: str, loadtester: str, gateway: str) -> str:
    return f"""# web's progressive delivery: 20% steps to 60% every 5s, judged on Prometheus, recorded in Git
apiVersion: canary.dev/v1alpha1
kind: Canary
metadata:
  name: web
spec:
  provider: gatewayapi
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}
  service:
    port: 9898
    targetPort: http
    gatewayRefs: [{{name: public}}]
  analysis:
    interval: 5s
    threshold: 2
    stepWeight: 20
    maxWeight: 60
    metrics:
      - name: request-success-rate
        interval: 10s
        thresholdRange: {{min: 99}}
      - name: request-duration
        interval: 10s
        thresholdRange: {{max: 500}}
    webhooks:
      - name: traffic
        type: rollout
        url: {loadtester}/
        metadata:
          type: load
          url: {gateway}/
          rate: "20"
          duration: 3m
          mode: async
  gitops:
    repository: {{url: {git_url}, branch: main}}
    path: apps/web/staging
    promote: {{path: apps/web/production}}
"""


PRODUCTION_KUSTOMIZATION = f"""# production: canary commits the images it promoted in staging
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../base
images:
  - name: {IMAGE}
    newTag: 1.0.0 # the last release that passed staging
"""

BASE_KUSTOMIZATION = """apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
"""

IMAGE_AUTOMATION = f"""apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata:
  name: web
  namespace: flux-system
spec:
  image: {IMAGE}
  interval: 5m
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: web
  namespace: flux-system
spec:
  imageRepositoryRef: {{name: web}}
  policy:
    semver: {{range: ">=1.0.0"}}
"""


def files(git_url: str, loadtester: str, gateway: str) -> dict[str, str]:
    """The repository's first commit (path -> text)."""
    return {
        "apps/web/base/kustomization.yaml": BASE_KUSTOMIZATION,
        "apps/web/base/deployment.yaml": deployment("1.0.0", "web: the base of every environment"),
        STAGING: deployment("1.0.0"),
        CANARY: canary(git_url, loadtester, gateway),
        PRODUCTION: PRODUCTION_KUSTOMIZATION,
        "flux/image-automation.yaml": IMAGE_AUTOMATION,
    }


def flux_sync(
    namespace: str,
    git_url: str,
    *,
    name: str = "web-staging",
    path: str = "./apps/web/staging",
    interval: str = "1m",
) -> str:
    """Flux's GitRepository ``config`` and a Kustomization applying ``path`` of it into ``namespace``
    (what ``flux create source git`` and ``flux create kustomization`` would write)."""
    return f"""apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: config, namespace: {namespace}}}
spec:
  interval: {interval}
  url: {git_url}
  ref: {{branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  interval: {interval}
  path: {path}
  prune: true
  targetNamespace: {namespace}
  sourceRef: {{kind: GitRepository, name: config}}
"""
