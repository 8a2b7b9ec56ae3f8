"""Render the Helm chart without helm: the subset of Go templates and Sprig that deploy/helm uses.

helm is not installable from the package registries here, so the chart tests render with this
(and with `helm template` too wherever a helm binary is on PATH). Supported: text with `{{- -}}`
trimming, comments, define/include, if/else if/else, range (lists and maps, with `$k, $v :=`), with,
pipelines with parentheses, and the functions in FUNCS. Anything else raises, so a template that
uses more than this fails loudly instead of rendering wrongly.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class RenderError(Exception):
    """The chart cannot render (a `required` value is missing, or unsupported syntax)."""


_ACTION_RE = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<str>"(?:[^"\\]|\\.)*")
      | (?P<raw>`[^`]*`)
      | (?P<num>-?\d+(?:\.\d+)?)
      | (?P<assign>:=)
      | (?P<punct>[|(),])
      | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
      | (?P<field>\.(?:[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)?)
      | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


@dataclass
class Node:
    kind: str  # text | action | if | range | with | define
    text: str = ""
    expr: list = field(default_factory=list)
    body: list = field(default_factory=list)
    other: list = field(default_factory=list)  # else branch
    names: list = field(default_factory=list)  # range variables


def _tokenize(src: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(src):
        if src[pos:].strip() == "":
            break
        m = _TOKEN_RE.match(src, pos)
        if not m or m.end() == pos:
            raise RenderError(f"cannot parse template expression near {src[pos:]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _lex(text: str) -> list[tuple[str, str]]:
    """Split a template into ("text", s) and ("action", body) items, applying trim markers."""
    items: list[tuple[str, str]] = []
    pos, trim_next = 0, False
    for m in _ACTION_RE.finditer(text):
        chunk = text[pos : m.start()]
        if trim_next:
            chunk = chunk.lstrip()
        if m.group(1):
            chunk = chunk.rstrip()
        items.append(("text", chunk))
        body = m.group(2).strip()
        if not (body.startswith("/*") and body.endswith("*/")):
            items.append(("action", body))
        trim_next = bool(m.group(3))
        pos = m.end()
    tail = text[pos:]
    items.append(("text", tail.lstrip() if trim_next else tail))
    return items


def _parse(items: list[tuple[str, str]], defines: dict[str, list[Node]]) -> list[Node]:
    pos = 0

    def block(stop: tuple[str, ...]) -> tuple[list[Node], str]:
        nonlocal pos
        nodes: list[Node] = []
        while pos < len(items):
            kind, val = items[pos]
            pos += 1
            if kind == "text":
                if val:
                    nodes.append(Node("text", text=val))
                continue
            word = val.split(None, 1)[0] if val else ""
            rest = val[len(word) :].strip()
            if word in stop:
                return nodes, val
            if word in ("if", "with"):
                nodes.append(conditional(word, rest))
            elif word == "range":
                names: list[str] = []
                if ":=" in rest:
                    lhs, rest = rest.split(":=", 1)
                    names = [n.strip() for n in lhs.split(",")]
                node = Node("range", expr=_tokenize(rest.strip()), names=names)
                node.body, end = block(("else", "end"))
                if end == "else":
                    node.other, _ = block(("end",))
                nodes.append(node)
            elif word == "define":
                name = json.loads(rest)
                defines[name], _ = block(("end",))
            elif word in ("end", "else"):
                raise RenderError(f"unexpected {{{{ {val} }}}}")
            elif word in ("template", "block", "break", "continue"):
                raise RenderError(f"unsupported action {word!r}")
            else:
                nodes.append(Node("action", expr=_tokenize(val)))
        if stop:
            raise RenderError(f"missing {{{{ end }}}} (expected one of {stop})")
        return nodes, ""

    def conditional(word: str, rest: str) -> Node:
        node = Node(word, expr=_tokenize(rest))
        node.body, end = block(("else", "end"))
        if end.startswith("else"):
            tail = end[4:].strip()
            if tail.startswith("if "):
                node.other = [conditional("if", tail[3:].strip())]
            else:
                node.other, _ = block(("end",))
        return node

    nodes, _ = block(())
    return nodes


def _truthy(v: Any) -> bool:
    return bool(v) if v is not None else False


def _to_str(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _indent(n: int, s: str) -> str:
    pad = " " * int(n)
    return "\n".join(pad + line for line in _to_str(s).split("\n"))


def _to_yaml(v: Any) -> str:
    if v is None:
        return "null"
    return yaml.safe_dump(v, default_flow_style=False, sort_keys=True, allow_unicode=True).rstrip("\n")


def _printf(fmt: str, *args: Any) -> str:
    return re.sub(r"%[sdv]", "%s", fmt) % tuple(_to_str(a) for a in args)


def _required(msg: str, v: Any) -> Any:
    if v is None or v == "":
        raise RenderError(msg)
    return v


FUNCS: dict[str, Any] = {
    "quote": lambda *a: " ".join(json.dumps(_to_str(x), ensure_ascii=False) for x in a),
    "default": lambda d, v=None: v if _truthy(v) else d,
    "toYaml": _to_yaml,
    "indent": _indent,
    "nindent": lambda n, s: "\n" + _indent(n, s),
    "b64enc": lambda s: base64.b64encode(_to_str(s).encode()).decode(),
    "replace": lambda old, new, s: _to_str(s).replace(old, new),
    "printf": _printf,
    "required": _required,
    "not": lambda v: not _truthy(v),
    "and": lambda *a: next((x for x in a if not _truthy(x)), a[-1]),
    "or": lambda *a: next((x for x in a if _truthy(x)), a[-1]),
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lower": lambda s: _to_str(s).lower(),
    "upper": lambda s: _to_str(s).upper(),
}


class Chart:
    """A chart directory: Chart.yaml, values.yaml and templates/."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.meta = yaml.safe_load((self.path / "Chart.yaml").read_text(encoding="utf-8"))
        self.values = yaml.safe_load((self.path / "values.yaml").read_text(encoding="utf-8")) or {}
        self.defines: dict[str, list[Node]] = {}
        self.templates: dict[str, list[Node]] = {}
        for tpl in sorted((self.path / "templates").iterdir()):
            nodes = _parse(_lex(tpl.read_text(encoding="utf-8")), self.defines)
            if not tpl.name.startswith("_") and tpl.suffix in (".yaml", ".yml"):
                self.templates[tpl.name] = nodes

    def render(self, values: dict[str, Any] | None = None, release: str = "guard") -> dict[str, str]:
        """Render every template with values.yaml deep-merged with `values`: {template name: text}."""
        merged = _merge(self.values, values or {})
        root = {
            "Values": merged,
            "Release": {"Name": release, "Namespace": "default", "Service": "Helm"},
            "Chart": {
                "Name": self.meta["name"],
                "Version": self.meta["version"],
                "AppVersion": self.meta["appVersion"],
            },
        }
        return {name: self._run(nodes, root, {"$": root}) for name, nodes in self.templates.items()}

    def _run(self, nodes: list[Node], dot: Any, scope: dict[str, Any]) -> str:
        out: list[str] = []
        for node in nodes:
            if node.kind == "text":
                out.append(node.text)
            elif node.kind == "action":
                out.append(_to_str(self._pipeline(node.expr, dot, scope)))
            elif node.kind == "if":
                branch = node.body if _truthy(self._pipeline(node.expr, dot, scope)) else node.other
                out.append(self._run(branch, dot, scope))
            elif node.kind == "with":
                val = self._pipeline(node.expr, dot, scope)
                out.append(self._run(node.body, val, scope) if _truthy(val) else self._run(node.other, dot, scope))
            elif node.kind == "range":
                val = self._pipeline(node.expr, dot, scope)
                pairs = sorted(val.items()) if isinstance(val, dict) else list(enumerate(val or []))
                if not pairs:
                    out.append(self._run(node.other, dot, scope))
                for key, item in pairs:
                    inner = dict(scope)
                    if len(node.names) == 2:
                        inner[node.names[0]], inner[node.names[1]] = key, item
                    elif len(node.names) == 1:
                        inner[node.names[0]] = item
                    out.append(self._run(node.body, item, inner))
        return "".join(out)

    def _pipeline(self, tokens: list[tuple[str, str]], dot: Any, scope: dict[str, Any]) -> Any:
        commands: list[list[tuple[str, str]]] = [[]]
        depth = 0
        for tok in tokens:
            if tok == ("punct", "|") and depth == 0:
                commands.append([])
                continue
            depth += {"(": 1, ")": -1}.get(tok[1], 0) if tok[0] == "punct" else 0
            commands[-1].append(tok)
        result: Any = None
        for i, cmd in enumerate(commands):
            result = self._command(cmd, dot, scope, piped=(result,) if i else ())
        return result

    def _command(self, tokens: list, dot: Any, scope: dict[str, Any], piped: tuple) -> Any:
        args: list[Any] = []
        i = 0
        while i < len(tokens):
            kind, val = tokens[i]
            if (kind, val) == ("punct", "("):
                depth, j = 1, i + 1
                while depth:
                    if tokens[j] == ("punct", "("):
                        depth += 1
                    elif tokens[j] == ("punct", ")"):
                        depth -= 1
                    j += 1
                args.append(("value", self._pipeline(tokens[i + 1 : j - 1], dot, scope)))
                i = j
                continue
            args.append((kind, val))
            i += 1
        if not args:
            raise RenderError("empty command")
        head_kind, head = args[0]
        if head_kind == "ident" and head not in ("true", "false", "nil"):
            values = [self._operand(a, dot, scope) for a in args[1:]] + list(piped)
            if head == "include":
                name, ctx = values
                return self._run(self.defines[name], ctx, {"$": scope["$"]})
            if head not in FUNCS:
                raise RenderError(f"unsupported function {head!r}")
            return FUNCS[head](*values)
        if len(args) != 1 or piped:
            raise RenderError(f"cannot call a non-function {head!r}")
        return self._operand(args[0], dot, scope)

    def _operand(self, arg: tuple[str, Any], dot: Any, scope: dict[str, Any]) -> Any:
        kind, val = arg
        if kind == "value":
            return val
        if kind == "str":
            return json.loads(val)
        if kind == "raw":
            return val[1:-1]
        if kind == "num":
            return float(val) if "." in val else int(val)
        if kind == "ident":
            return {"true": True, "false": False, "nil": None}[val]
        if kind == "field":
            return _walk(dot, val[1:].split(".") if val != "." else [])
        if kind == "var":
            name, _, path = val.partition(".")
            if name not in scope:
                raise RenderError(f"undefined variable {name}")
            return _walk(scope[name], path.split(".") if path else [])
        raise RenderError(f"unexpected {val!r}")


def _walk(obj: Any, path: list[str]) -> Any:
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
