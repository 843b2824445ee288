"""Promoted images written into Helm values: the inline ``spec.values`` of Flux HelmReleases, and
the values files a kustomize ``configMapGenerator`` turns into the ConfigMaps of their
``valuesFrom``.

Who calls this: the GitOps writer's promotion (``canary.adapters.gitops.writer``), beside the
container and kustomization edits of ``manifests``, for the next environment's path.

Why it is built this way: with Helm the image is not in a manifest but in values that a chart's
template turns into one, and each chart names its keys.  The spec can name them
(``promote.helmValues``: repository/tag/digest keys, or one key with the whole reference); without
that, the common layouts are found by shape: any mapping whose ``repository`` (after its
``registry``, when there is one) is a promoted image's repository gets that image's tag (and digest)
beside it, and any ``image`` key holding a whole reference to a promoted repository gets the new
reference.  Edits are spliced into the original text like every other edit of ``manifests``
(comments, quoting and indentation kept), and checked by running the same edit on the result: an
edit that did not take reads as an error, never as a commit.

Not handled (an error or nothing found, never a wrong edit): values inside a ConfigMap manifest's
data (a string holding YAML), valuesFrom Secrets, flow-style mappings (``image: {tag: 1}``), and
keys that contain a dot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from canary.adapters.gitops.manifests import (
    Edit,
    ManifestError,
    _apply,
    _documents,
    _key_indent,
    _render,
    _replace_value,
    _Splice,
    split_image,
)
from canary.models.gitops import HelmValuesImage

HELM_API = "helm.toolkit.fluxcd.io/"
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
DEFAULT_VALUES_KEY = "values.yaml"


@dataclass
class _Out:
    """One edit of a file's text: what it writes, and where it is (``where``, for messages)."""

    lines: list[str]
    images: Mapping[str, str]
    keys: Sequence[HelmValuesImage] | None
    where: str = ""
    splices: list[_Splice] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    found: int = 0

    @property
    def by_repository(self) -> dict[str, str]:
        return {split_image(ref).repository: ref for ref in self.images.values()}

    def values(self, values: CommentedMap) -> None:
        if self.keys is None:
            self.by_shape(values)
        else:
            for entry in self.keys:
                self.named(values, entry)

    def by_shape(self, values: CommentedMap) -> None:
        by_repository = self.by_repository
        for path, m in _mappings(values, ""):
            repository = m.get("repository")
            if isinstance(repository, str):
                registry = m.get("registry")
                full = f"{registry}/{repository}" if isinstance(registry, str) and registry else repository
                ref = by_repository.get(full)
                if ref is not None:
                    self.found += 1
                    digest = "digest" in m
                    new = split_image(ref)
                    if digest:
                        self.set(m, _join(path, "digest"), new.digest or "")
                    tag = self.tag(new.tag, None if digest else new.digest, ref, _join(path, "tag"))
                    if tag is not None:
                        self.set(m, _join(path, "tag"), tag)
            image = m.get("image")
            if isinstance(image, str):
                ref = by_repository.get(split_image(image).repository)
                if ref is not None:
                    self.found += 1
                    self.set(m, _join(path, "image"), ref)

    def named(self, values: CommentedMap, entry: HelmValuesImage) -> None:
        named = {
            role: dotted
            for role, dotted in (
                ("image", entry.image),
                ("repository", entry.repository),
                ("tag", entry.tag),
                ("digest", entry.digest),
            )
            if dotted
        }
        at = {role: _resolve(values, dotted) for role, dotted in named.items()}
        if not any(parent is not None and _leaf(named[role]) in parent for role, parent in at.items()):
            return  # none of these keys in this document: the entry is about another release
        ref = self.which(entry, at, named)
        self.found += 1
        parents: dict[str, CommentedMap] = {}
        for role, parent in at.items():
            if parent is None:
                raise ManifestError(f"{self.where}: {named[role]}: its parent is not a mapping in the values")
            parents[role] = parent
        if "image" in parents:
            self.set(parents["image"], named["image"], ref)
            return
        new = split_image(ref)
        if "repository" in parents:
            self.set(parents["repository"], named["repository"], new.repository)
        if "digest" in parents:
            self.set(parents["digest"], named["digest"], new.digest or "")
        if "tag" in parents:
            tag = self.tag(new.tag, None if "digest" in parents else new.digest, ref, named["tag"])
            if tag is not None:
                self.set(parents["tag"], named["tag"], tag)

    def which(
        self, entry: HelmValuesImage, at: Mapping[str, CommentedMap | None], named: Mapping[str, str]
    ) -> str:
        """The promoted reference an entry of helmValues receives."""
        if entry.container is not None:
            ref = self.images.get(entry.container)
            if ref is None:
                raise ManifestError(
                    f"{self.where}: helmValues names container {entry.container}, which was not promoted "
                    f"(promoted: {', '.join(sorted(self.images)) or 'none'})"
                )
            return ref
        by_repository = self.by_repository
        for role in ("image", "repository"):
            parent = at.get(role)
            current = parent.get(_leaf(named[role])) if parent is not None else None
            if isinstance(current, str):
                repository = split_image(current).repository if role == "image" else current
                if repository in by_repository:
                    return by_repository[repository]
        if len(self.images) == 1:
            return next(iter(self.images.values()))
        raise ManifestError(
            f"{self.where}: cannot tell which promoted image ({', '.join(sorted(self.images.values()))}) "
            f"goes to {', '.join(sorted(named.values()))}: name its container in helmValues"
        )

    def tag(self, tag: str | None, digest: str | None, ref: str, key: str) -> str | None:
        """The tag value to write: the tag, with the digest appended when there is no digest key."""
        if tag is None:
            if digest is None:
                return None
            raise ManifestError(
                f"{self.where}: {key}: {ref} has a digest and no tag; name a digest key in helmValues"
            )
        return f"{tag}@{digest}" if digest else tag

    def set(self, m: CommentedMap, dotted: str, value: str) -> None:
        key = _leaf(dotted)
        current = m.get(key)
        if isinstance(current, (CommentedMap, CommentedSeq)):
            raise ManifestError(f"{self.where}: {dotted} is not a scalar")
        if key in m and str(current) == value:
            return
        if m.fa.flow_style():
            raise ManifestError(
                f"{self.where}: {dotted}: a flow-style mapping ({{...}}) cannot be edited in place"
            )
        if key in m:
            self.splices.append(_replace_value(self.lines, m, key, value))
            self.changed.append(f"{self.where} {dotted}: {current} -> {value}")
            return
        self.splices.append(self.insertion(m, key, value, dotted))
        self.changed.append(f"{self.where} {dotted}: + {value}")

    def insertion(self, m: CommentedMap, key: str, value: str, dotted: str) -> _Splice:
        """A new ``key: value`` line among ``m``'s keys: after a sibling whose value is on its line."""
        indent = _key_indent(m)
        for sibling in m:
            line = int(m.lc.key(sibling)[0])
            if int(m.lc.value(sibling)[0]) != line or isinstance(m[sibling], (CommentedMap, CommentedSeq)):
                continue
            if not self.lines[line][int(m.lc.value(sibling)[1]) :].lstrip().startswith(("|", ">")):
                return _Splice(line, 0, 0, f"{' ' * indent}{key}: {_render(value, '')}", insert=True)
        raise ManifestError(f"{self.where}: {dotted}: no place to add the key (add it once by hand)")


# ------------------------------------------------------------------------------------------ entry points
Trees = Callable[[str], Iterator[tuple[str, CommentedMap]]]


def set_release_images(text: str, images: Mapping[str, str], keys: Sequence[HelmValuesImage] | None) -> Edit:
    """Write ``images`` (container -> reference) into the ``spec.values`` of every Flux HelmRelease
    document of ``text``."""
    return _edit(text, images, keys, _release_values)


def set_values_file_images(
    text: str, images: Mapping[str, str], keys: Sequence[HelmValuesImage] | None
) -> Edit:
    """Write ``images`` into a values file (its first document is the values)."""
    return _edit(text, images, keys, _file_values)


def _run(text: str, images: Mapping[str, str], keys: Sequence[HelmValuesImage] | None, trees: Trees) -> _Out:
    out = _Out(text.splitlines(keepends=True), images, keys)
    for where, values in trees(text):
        out.where = where
        out.values(values)
    return out


def _edit(text: str, images: Mapping[str, str], keys: Sequence[HelmValuesImage] | None, trees: Trees) -> Edit:
    out = _run(text, images, keys, trees)
    if not out.splices:
        return Edit(text, found=out.found)
    result = _apply(text, out.splices)
    again = _run(result, images, keys, trees)
    if again.splices or again.found != out.found:
        raise ManifestError("the edited values do not read back as written")
    return Edit(result, out.changed, out.found)


def _release_values(text: str) -> Iterator[tuple[str, CommentedMap]]:
    for doc in _documents(text):
        if not isinstance(doc, CommentedMap) or doc.get("kind") != "HelmRelease":
            continue
        if not str(doc.get("apiVersion", "")).startswith(HELM_API):
            continue
        values = (doc.get("spec") or {}).get("values")
        if isinstance(values, CommentedMap) and values:
            yield f"HelmRelease/{(doc.get('metadata') or {}).get('name', '?')} spec.values", values


def _file_values(text: str) -> Iterator[tuple[str, CommentedMap]]:
    docs = _documents(text)
    if docs and isinstance(docs[0], CommentedMap) and docs[0]:
        yield "values", docs[0]


# ------------------------------------------------------------------------------------------ walking
def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _mappings(node: Any, path: str) -> Iterator[tuple[str, CommentedMap]]:
    if isinstance(node, CommentedMap):
        yield path, node
        for k, v in node.items():
            yield from _mappings(v, _join(path, str(k)))
    elif isinstance(node, CommentedSeq):
        for i, v in enumerate(node):
            yield from _mappings(v, f"{path}[{i}]")


def _leaf(dotted: str) -> str:
    return dotted.rsplit(".", 1)[-1]


def _resolve(values: CommentedMap, dotted: str) -> CommentedMap | None:
    """The mapping holding the last key of ``dotted``; None when a parent is missing."""
    node: Any = values
    for part in dotted.split(".")[:-1]:
        node = node.get(part) if isinstance(node, CommentedMap) else None
    return node if isinstance(node, CommentedMap) else None


# ------------------------------------------------------------------------------------------ valuesFrom
@dataclass(frozen=True)
class ValuesFile:
    path: Path  # resolved, absolute
    where: str  # what refers to it, for people
    kustomization: Path  # the kustomization whose generator reads it (absolute)


def values_files(root: Path) -> list[ValuesFile]:
    """The files of ``root`` that kustomize turns into a ConfigMap (configMapGenerator ``files``) whose
    key a HelmRelease of the repository reads (``valuesFrom`` kind ConfigMap, ``valuesKey`` default
    values.yaml).  Files that do not parse are passed over here (the edit of a path reports them)."""
    wanted: set[tuple[str, str]] = set()
    generators: list[tuple[Path, CommentedMap]] = []
    for path, doc in _documents_of(root):
        if doc.get("kind") == "HelmRelease" and str(doc.get("apiVersion", "")).startswith(HELM_API):
            for ref in (doc.get("spec") or {}).get("valuesFrom") or []:
                if isinstance(ref, CommentedMap) and ref.get("kind") == "ConfigMap" and ref.get("name"):
                    wanted.add((str(ref["name"]), str(ref.get("valuesKey") or DEFAULT_VALUES_KEY)))
        if path.name in KUSTOMIZATION_FILES:
            generators += [
                (path, g) for g in doc.get("configMapGenerator") or [] if isinstance(g, CommentedMap)
            ]
    out: list[ValuesFile] = []
    for kustomization, generator in generators:
        name = str(generator.get("name", ""))
        for item in generator.get("files") or []:
            key, sep, file = str(item).partition("=")
            if not sep:
                key, file = Path(item).name, str(item)
            if (name, key) in wanted:
                where = f"ConfigMap {name} ({key}, configMapGenerator of {kustomization.relative_to(root)})"
                out.append(
                    ValuesFile((kustomization.parent / file).resolve(), where, kustomization.resolve())
                )
    return out


def _documents_of(root: Path) -> Iterator[tuple[Path, CommentedMap]]:
    """The mappings of the YAML files of ``root`` that may hold a HelmRelease or a configMapGenerator."""
    for path in _yaml_files(root):
        try:
            text = path.read_text()
            if "HelmRelease" not in text and "configMapGenerator" not in text:
                continue
            docs = _documents(text)
        except (ManifestError, OSError, UnicodeDecodeError):
            continue
        for doc in docs:
            if isinstance(doc, CommentedMap):
                yield path, doc


def _yaml_files(root: Path) -> Iterator[Path]:
    for p in sorted(root.rglob("*")):
        if any(part.startswith(".") for part in p.relative_to(root).parts) or not p.is_file():
            continue
        if p.suffix in (".yaml", ".yml") or p.name == "Kustomization":
            yield p
