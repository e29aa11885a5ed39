"""The Terraform module under infra/ parsed with python-hcl2, plus the few expression forms it uses, evaluated."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
_OPTIONS = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
_WHOLE = re.compile(r"^\$\{(.*)\}$", re.S)


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    body: dict[str, Any]
    file: str


@dataclass
class Module:
    resources: list[Resource]
    locals: dict[str, Any]
    variables: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    texts: dict[str, str]

    def resource(self, type_: str, name: str) -> Resource:
        found = [r for r in self.resources if r.type == type_ and r.name == name]
        assert len(found) == 1, f"{type_}.{name} declared {len(found)} times"
        return found[0]

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    # -- expressions ------------------------------------------------------------------------------------
    def value(self, expr: Any) -> Any:
        """A local reference, merge() of maps, toset() of a list, or a literal."""
        if not isinstance(expr, str):
            return expr
        m = _WHOLE.match(expr)
        if not m:
            return expr
        inner = m.group(1).strip()
        if re.fullmatch(r"local\.\w+", inner):
            return self.value(self.locals[inner.split(".", 1)[1]])
        if inner.startswith("merge(") and inner.endswith(")"):
            merged: dict[str, Any] = {}
            for part in _split_args(inner[len("merge("):-1]):
                merged.update(self.value("${" + part + "}"))
            return merged
        picked = re.fullmatch(r'toset\(\[for (\w+) in var\.(\w+) : \1\["(\w+)"\] if \1\["(\w+)"\] == "(\w+)"\]\)',
                              inner)
        if picked:  # toset([for a in var.x : a["field"] if a["kind"] == "value"]), on the variable's default
            items = self.variables[picked.group(2)].get("default") or []
            chosen = [a[picked.group(3)] for a in items if a.get(picked.group(4)) == picked.group(5)]
            return {item: item for item in chosen}
        if inner.startswith("toset(") and inner.endswith(")"):
            return {item: item for item in self.value("${" + inner[len("toset("):-1] + "}")}
        filtered = re.fullmatch(r"\{\s*for (\w+), (\w+) in (local\.\w+) : \1 => \2 if \2\.(\w+)\s*\}", inner)
        if filtered:
            source = self.value("${" + filtered.group(3) + "}")
            return {k: v for k, v in source.items() if v[filtered.group(4)] is True}
        raise ValueError(f"expression not understood by the offline checks: {expr}")

    def instances(self, resource: Resource) -> dict[str, Any]:
        """each.key -> each.value of a for_each resource ({"": None} without for_each)."""
        if "for_each" not in resource.body:
            return {"": None}
        return dict(self.value(resource.body["for_each"]))

    def render(self, text: str, key: str = "", value: Any = None, variables: dict[str, Any] | None = None) -> str:
        """Substitutes ${each.key}, ${each.value.x}, ${var.x}, ${local.x} (scalars) and replace(each.key, ...)."""
        env = {name: v.get("default") for name, v in self.variables.items()}
        env.update(variables or {})

        def sub(m: re.Match[str]) -> str:
            inner = m.group(1).strip()
            if inner == "each.key":
                return key
            if inner.startswith("each.value."):
                return str(value[inner.split(".", 2)[2]])
            if inner.startswith("var."):
                return str(env[inner[4:]])
            if re.fullmatch(r"local\.\w+", inner) and isinstance(self.locals[inner[6:]], str | int):
                return self.render(str(self.locals[inner[6:]]), key, value, variables)
            text_of = re.fullmatch(r"tostring\(var\.(\w+)\)", inner)
            if text_of:
                return str(env[text_of.group(1)])
            encoded = re.fullmatch(r"jsonencode\(var\.(\w+)\)", inner)
            if encoded:
                return json.dumps(env[encoded.group(1)])
            rep = re.fullmatch(r'replace\(each\.key, "(.*?)", "(.*?)"\)', inner)
            if rep:
                return key.replace(rep.group(1), rep.group(2))
            return m.group(0)

        return re.sub(r"\$\{((?:[^{}]|\{[^{}]*\})*)\}", sub, text)


def _split_args(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current.strip())
    return parts


def block(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The one nested block `name` of a body (hcl2 gives blocks as lists)."""
    found = body.get(name)
    assert isinstance(found, list) and len(found) == 1, f"expected one {name} block, got {found!r}"
    item = found[0]
    assert isinstance(item, dict)
    return item


def dynamic(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    for entry in body.get("dynamic", []):
        if name in entry:
            item = entry[name]
            assert isinstance(item, dict)
            return item
    return None


def walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)


def load(infra: Path = INFRA) -> Module:
    module = Module([], {}, {}, {}, {})
    for path in sorted(infra.glob("*.tf")):
        text = path.read_text(encoding="utf-8")
        module.texts[path.name] = text
        doc = hcl2.loads(text, serialization_options=_OPTIONS)
        for entry in doc.get("resource", []) + doc.get("data", []):
            for type_, named in entry.items():
                for name, body in named.items():
                    module.resources.append(Resource(type_, name, body, path.name))
        for entry in doc.get("locals", []):
            for name, value in entry.items():
                assert name not in module.locals, f"local.{name} declared twice"
                module.locals[name] = value
        for entry in doc.get("variable", []):
            module.variables.update(entry)
        for entry in doc.get("output", []):
            module.outputs.update(entry)
    return module
