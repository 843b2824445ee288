"""Edits of a config repository's manifests that keep every byte the edit is not about.

Who calls this: the GitOps writer (``canary.adapters.gitops.writer``): after a promotion it writes
the promoted images into the next environment (``set_images``); after a rollback it adds the failed
tag to Flux's ImageRepository exclusion list (``exclude_tag``).

Why it is built this way: a config repository is read and reviewed by people, so a commit by the
controller must change the one value it is about and nothing else: no re-indented lists, no dropped
comments, no re-quoted strings, no lost ``# {"$imagepolicy": ...}`` setter comments that Flux image
automation relies on.  A full load-and-dump with ruamel.yaml keeps comments but still normalises
indentation and wrapping here and there.  So ruamel.yaml (round-trip mode) parses each file and
tells *where* each value sits (line and column), and the edit is spliced into the original text at
that place: a scalar replaced in the quoting style it had, a key or list item inserted as a line
with the indentation of its siblings, a line removed.  Every edited file is parsed again and the
edited values checked, so a splice that went wrong is an error, never a corrupt commit.

Errors: YAML the parser refuses, or a shape the splice cannot handle (a flow-style list, a
multi-line scalar), raise ``ManifestError`` naming the file (or document) and the reason; the writer
reports it instead of committing.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

#: Flux's default ImageRepository exclusion list, replaced when the field is set, so kept when we set it.
FLUX_DEFAULT_EXCLUSIONS = ("^.*\\.sig$",)
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "Pod"})
#: a ``Service`` of this API group is a Knative Service, whose ``spec.template`` is a pod template too
KNATIVE = "serving.knative.dev/"


class ManifestError(Exception):
    """A manifest could not be read or edited safely; the message names where and why."""


@dataclass(frozen=True)
class Image:
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def ref(self) -> str:
        out = self.repository
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def split_image(ref: str) -> Image:
    """``registry:5000/ns/app:1.2@sha256:...`` -> repository, tag, digest (a port is not a tag)."""
    name, _, digest = ref.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return Image(name[:colon], name[colon + 1 :] or None, digest or None)
    return Image(name, None, digest or None)


@dataclass
class Edit:
    """The new text of a file and what changed in it, for people (commit messages)."""

    text: str
    changed: list[str] = field(default_factory=list)
    #: places that hold one of the images asked for, changed or already equal
    found: int = 0


# ------------------------------------------------------------------------------------------ parsing
def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    return y


def _documents(text: str) -> list[Any]:
    try:
        return [d for d in _yaml().load_all(io.StringIO(text)) if d is not None]
    except YAMLError as e:
        raise ManifestError(f"not valid YAML: {str(e).splitlines()[0] if str(e) else e}") from e


def _pod_specs(doc: CommentedMap) -> Iterator[tuple[str, CommentedMap]]:
    """(where, pod spec) of a workload document."""
    kind = doc.get("kind")
    name = (doc.get("metadata") or {}).get("name", "?")
    spec = doc.get("spec")
    if not isinstance(spec, CommentedMap):
        return
    if kind == "Pod":
        yield f"Pod/{name}", spec
    elif kind in WORKLOAD_KINDS or (kind == "Service" and str(doc.get("apiVersion", "")).startswith(KNATIVE)):
        template = (spec.get("template") or {}).get("spec")
        if isinstance(template, CommentedMap):
            yield f"{kind}/{name}", template
    elif kind == "CronJob":
        job = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
        if isinstance(job.get("spec"), CommentedMap):
            yield f"CronJob/{name}", job["spec"]


def _is_kustomization(doc: CommentedMap) -> bool:
    api = str(doc.get("apiVersion", ""))
    if doc.get("kind") == "Kustomization":
        return api.startswith("kustomize.config.k8s.io") or not api
    return "images" in doc and ("resources" in doc or "bases" in doc or "components" in doc)


# ------------------------------------------------------------------------------------------ splicing
@dataclass(frozen=True)
class _Splice:
    line: int  # 0-based
    start: int  # column where the replaced text starts
    end: int  # column where it ends (exclusive); start == end with ``insert`` for a new line
    text: str
    insert: bool = False  # insert ``text`` as a new line after ``line``
    delete: bool = False  # remove ``line``


def _scalar_end(line: str, col: int) -> int:
    """Where the scalar starting at ``col`` ends on its line (quotes honoured, comments excluded)."""
    quote = line[col] if col < len(line) else ""
    if quote == "'":
        i = col + 1
        while i < len(line):
            if line[i] == "'" and line[i + 1 : i + 2] == "'":
                i += 2
                continue
            if line[i] == "'":
                return i + 1
            i += 1
        raise ManifestError("a single-quoted value spans several lines")
    if quote == '"':
        i = col + 1
        while i < len(line):
            if line[i] == "\\":
                i += 2
                continue
            if line[i] == '"':
                return i + 1
            i += 1
        raise ManifestError("a double-quoted value spans several lines")
    comment = re.search(r"\s#", line[col:])
    end = col + comment.start() if comment else len(line)
    return len(line[:end].rstrip())


def _render(value: str, like: str) -> str:
    """``value`` as a YAML scalar in the quoting style of ``like`` (plain when that is safe)."""
    if like.startswith("'"):
        return "'" + value.replace("'", "''") + "'"
    if like.startswith('"'):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    plain = re.fullmatch(r"[A-Za-z0-9_./@:+-]+", value) and not value.startswith(("@", "-", ":"))
    if plain and isinstance(YAML(typ="safe").load(value), str):  # "7.2" or "true" would not be strings
        return value
    return "'" + value.replace("'", "''") + "'"


def _replace_value(lines: list[str], mapping: CommentedMap, key: str, value: str) -> _Splice:
    line, col = mapping.lc.value(key)
    text = lines[line]
    end = _scalar_end(text, col)
    if text[col : col + 1] in ("|", ">"):
        raise ManifestError(f"{key} is a block scalar")
    return _Splice(line, col, end, _render(value, text[col:end]))


def _apply(text: str, splices: list[_Splice]) -> str:
    lines = text.splitlines(keepends=True)
    for s in sorted(splices, key=lambda s: (s.line, s.start), reverse=True):
        if s.delete:
            del lines[s.line]
        elif s.insert:
            newline = "\n" if lines[s.line].endswith("\n") else ""
            if not newline:
                lines[s.line] += "\n"
            lines.insert(s.line + 1, s.text + "\n")
        else:
            current = lines[s.line]
            lines[s.line] = current[: s.start] + s.text + current[s.end :]
    return "".join(lines)


def _key_indent(mapping: CommentedMap) -> int:
    first = next(iter(mapping))
    return int(mapping.lc.key(first)[1])


# ------------------------------------------------------------------------------------------ edits
def set_images(text: str, images: Mapping[str, str]) -> Edit:
    """Set the image of every container whose image repository is a key of ``images`` (repository ->
    new reference), and the matching ``images:`` entries of a kustomization.  Unchanged: the same text."""
    lines = text.splitlines(keepends=True)
    splices: list[_Splice] = []
    changed: list[str] = []
    found = 0
    for doc in _documents(text):
        if not isinstance(doc, CommentedMap):
            continue
        for where, c, current in _container_images(doc):
            new = images.get(split_image(current).repository)
            if new is None:
                continue
            found += 1
            if new == current:
                continue
            splices.append(_replace_value(lines, c, "image", new))
            changed.append(f"{where} container {c.get('name', '?')}: {current} -> {new}")
        if _is_kustomization(doc):
            for entry in doc.get("images") or []:
                if isinstance(entry, CommentedMap):
                    found += _kustomize_matches(entry, images)
                    splices += _kustomize_image(lines, entry, images, changed)
    if not splices:
        return Edit(text, found=found)
    out = _apply(text, splices)
    _check_images(out, images)
    return Edit(out, changed, found)


def _kustomize_matches(entry: CommentedMap, images: Mapping[str, str]) -> int:
    name = entry.get("name")
    return int(isinstance(name, str) and (name in images or str(entry.get("newName", "")) in images))


def _kustomize_image(
    lines: list[str], entry: CommentedMap, images: Mapping[str, str], changed: list[str]
) -> list[_Splice]:
    name = entry.get("name")
    if not isinstance(name, str):
        return []
    new_ref = images.get(name) or images.get(str(entry.get("newName", "")))
    if new_ref is None:
        return []
    new = split_image(new_ref)
    wanted: dict[str, str | None] = {
        "newName": new.repository if new.repository != name else entry.get("newName"),
        "newTag": new.tag,
        "digest": new.digest,
    }
    if wanted["newName"] == name:
        wanted["newName"] = None
    splices: list[_Splice] = []
    indent = _key_indent(entry)
    after = int(entry.lc.key("name")[0])
    described = []
    for key, value in wanted.items():
        current = entry.get(key)
        if value == current or (value is None and key not in entry):
            continue
        if value is None:
            line = int(entry.lc.key(key)[0])
            if int(entry.lc.value(key)[0]) != line:
                raise ManifestError(f"images entry {name}: {key} spans several lines")
            splices.append(_Splice(line, 0, 0, "", delete=True))
        elif key in entry:
            splices.append(_replace_value(lines, entry, key, value))
        else:
            splices.append(_Splice(after, 0, 0, f"{' ' * indent}{key}: {_render(value, '')}", insert=True))
        described.append(f"{key} {current or '-'} -> {value or '-'}")
    if splices:
        changed.append(f"kustomization images {name}: " + ", ".join(described))
    return splices


def _container_images(doc: CommentedMap) -> Iterator[tuple[str, CommentedMap, str]]:
    """(where, container, image) of every container with an image in the workloads of ``doc``."""
    for where, pod in _pod_specs(doc):
        for group in ("initContainers", "containers"):
            for c in pod.get(group) or []:
                image = c.get("image") if isinstance(c, CommentedMap) else None
                if isinstance(image, str):
                    yield where, c, image


def _check_images(text: str, images: Mapping[str, str]) -> None:
    for doc in _documents(text):
        if not isinstance(doc, CommentedMap):
            continue
        for where, _, image in _container_images(doc):
            wanted = images.get(split_image(image).repository)
            if wanted is not None and image != wanted:
                raise ManifestError(f"{where}: the edited image reads back as {image}")


def exclude_tag(text: str, repository: str, tag: str) -> Edit:
    """Add ``^<tag>$`` (escaped) to the exclusionList of each Flux ImageRepository of ``repository``.

    ImagePolicy objects have no such list: they choose among the tags of the ImageRepository they
    reference, so a tag excluded there is never proposed again by image automation."""
    pattern = f"^{re.escape(tag)}$"
    lines = text.splitlines(keepends=True)
    splices: list[_Splice] = []
    changed: list[str] = []
    for doc in _documents(text):
        spec = _image_repository_spec(doc, repository)
        if spec is None:
            continue
        name = (doc.get("metadata") or {}).get("name", "?")
        splice = _exclusion(lines, spec, pattern, f"ImageRepository/{name}")
        if splice is not None:
            splices.append(splice)
            changed.append(f"ImageRepository/{name} exclusionList: + {pattern}")
    if not splices:
        return Edit(text)
    out = _apply(text, splices)
    for doc in _documents(out):
        spec = _image_repository_spec(doc, repository)
        if spec is not None and pattern not in (spec.get("exclusionList") or []):
            raise ManifestError("the edited exclusionList does not read back")
    return Edit(out, changed)


def _image_repository_spec(doc: Any, repository: str) -> CommentedMap | None:
    if not isinstance(doc, CommentedMap) or doc.get("kind") != "ImageRepository":
        return None
    if not str(doc.get("apiVersion", "")).startswith("image.toolkit.fluxcd.io/"):
        return None
    spec = doc.get("spec")
    return spec if isinstance(spec, CommentedMap) and spec.get("image") == repository else None


def _exclusion(lines: list[str], spec: CommentedMap, pattern: str, where: str) -> _Splice | None:
    current = spec.get("exclusionList")
    if current is None:
        indent = _key_indent(spec)
        line = int(spec.lc.key(next(iter(spec)))[0])
        block = [f"{' ' * indent}exclusionList:"]
        block += [f"{' ' * (indent + 2)}- {_render(p, chr(39))}" for p in (*FLUX_DEFAULT_EXCLUSIONS, pattern)]
        # Inserted before the first key of spec, at its indentation: always a valid place.
        return _Splice(line - 1, 0, 0, "\n".join(block), insert=True)
    if not isinstance(current, CommentedSeq):
        raise ManifestError(f"{where}: exclusionList is not a list")
    if pattern in current:
        return None
    if current.fa.flow_style() or not current:
        raise ManifestError(f"{where}: exclusionList is a flow-style list")
    line, col = current.lc.item(len(current) - 1)
    dash = lines[line].rfind("-", 0, col)
    if dash < 0 or lines[line][:dash].strip():
        raise ManifestError(f"{where}: cannot find the list's dashes")
    gap = lines[line][dash + 1 : col]
    return _Splice(line, 0, 0, f"{lines[line][:dash]}-{gap}{_render(pattern, chr(39))}", insert=True)


# ------------------------------------------------------------------------------------------ trees
def edit_tree(root: Path, relative: str, edit: Callable[[str], Edit]) -> list[tuple[Path, Edit]]:
    """Apply ``edit`` to a file, or to every YAML file under a directory (hidden ones skipped),
    writing the files whose text changed; those files (relative to ``root``) and their edits."""
    base = root.resolve()
    target = (base / relative).resolve()
    if target != base and base not in target.parents:
        raise ManifestError(f"{relative} is outside the repository")
    if not target.exists():
        raise ManifestError(f"{relative} does not exist in the repository")
    if target.is_file():
        files = [target]
    else:
        files = sorted(
            p
            for p in target.rglob("*")
            if p.suffix in (".yaml", ".yml")
            and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(target).parts)
        )
    out: list[tuple[Path, Edit]] = []
    for path in files:
        real = path.resolve()
        if base not in real.parents:
            raise ManifestError(f"{path.relative_to(base)} links outside the repository")
        text = real.read_text()
        try:
            result = edit(text)
        except ManifestError as e:
            raise ManifestError(f"{path.relative_to(base)}: {e}") from e
        if result.text != text:
            real.write_text(result.text)
            out.append((path.relative_to(base), result))
    return out
