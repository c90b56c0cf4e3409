"""No module-level state: what a running app fills or changes belongs to the app.

``create_app`` (webhooks/app.py) is the one composition root; caches, routers, learned
mappings and counters are objects it builds and passes down (docs/ARCHITECTURE.md "Flows,
routers and services"), so two apps in one process share nothing. This scan reads every
module of the packages (no import) and fails on:

- a module-level container (a dict, list or set literal or comprehension, or a ``dict()``,
  ``OrderedDict()``, ``defaultdict()``, ``deque()`` … call, or an instance of a dict
  subclass) that any code changes after it is built: an item stored or deleted, or a
  mutating method called on it, in its own module or in one that imports it;
- a module-level ``OrderedDict``, ``defaultdict``, ``deque``, ``Counter``, weak mapping or
  dict subclass at all: those only ever hold run-time state (an LRU, a memo);
- a module-level ``Router(...)`` (flows declare a ``Blueprint``; each Engine builds its own
  routers from it, bot/router.py);
- a ``global`` statement.

Constant tables built once at import and never changed are fine (and are best typed
``Final`` or ``Mapping``); a pure function of immutable arguments may use ``functools``
caches. ``ALLOWED`` names the few exceptions, each with its reason.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "catalog", "payments", "webhooks", "config", "storage", "security")

CONTAINER_CALLS = frozenset({"dict", "list", "set", "bytearray", "OrderedDict", "defaultdict",
                             "deque", "Counter", "ChainMap", "WeakValueDictionary",
                             "WeakKeyDictionary", "WeakSet"})
# containers whose only use is state filled at run time
STATEFUL_CALLS = frozenset({"OrderedDict", "defaultdict", "deque", "Counter", "ChainMap",
                            "WeakValueDictionary", "WeakKeyDictionary", "WeakSet"})
CONTAINER_BASES = frozenset({"dict", "list", "set", "OrderedDict", "defaultdict", "Counter"})
MUTATORS = frozenset({"append", "extend", "insert", "pop", "popitem", "clear", "update",
                      "setdefault", "add", "discard", "remove", "move_to_end", "appendleft",
                      "extendleft", "popleft", "sort", "reverse", "__setitem__",
                      "__delitem__", "difference_update", "intersection_update",
                      "symmetric_difference_update", "rotate"})

ALLOWED: dict[tuple[str, str], str] = {
    ("bot/nlu/builtin.py", "_CHARS"):
        "str.translate's table for the tokenizer: a memo of a pure function of one code "
        "point (str.translate cannot call a functools cache), the same for every app and "
        "capped at _CHARS_KEPT entries",
}


@dataclass(frozen=True)
class Binding:
    module: str  # dotted
    path: str  # relative to the repository
    name: str
    line: int
    kind: str


def _call_name(node: ast.expr) -> str | None:
    if not isinstance(node, ast.Call):
        return None
    fn = node.func
    if isinstance(fn, ast.Name):
        return fn.id
    if isinstance(fn, ast.Attribute):
        return fn.attr
    return None


def _container_classes(tree: ast.Module) -> set[str]:
    """Classes of this module that are dicts, lists or sets themselves."""
    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                target = base.value if isinstance(base, ast.Subscript) else base
                name = target.id if isinstance(target, ast.Name) else (
                    target.attr if isinstance(target, ast.Attribute) else None)
                if name in CONTAINER_BASES:
                    out.add(node.name)
    return out


def _container_factories(tree: ast.Module) -> set[str]:
    """Module functions annotated to return a dict, list or set (``_table() -> dict``)."""
    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.returns is not None:
            returns = node.returns
            head = returns.value if isinstance(returns, ast.Subscript) else returns
            if isinstance(head, ast.Name) and head.id in ("dict", "list", "set"):
                out.add(node.name)
            if isinstance(head, ast.Constant) and isinstance(head.value, str) and \
                    head.value.split("[")[0] in ("dict", "list", "set"):
                out.add(node.name)
    return out


def _kind(value: ast.expr, classes: set[str], factories: set[str]) -> str | None:
    if isinstance(value, (ast.Dict, ast.DictComp)):
        return "dict"
    if isinstance(value, (ast.List, ast.ListComp)):
        return "list"
    if isinstance(value, (ast.Set, ast.SetComp)):
        return "set"
    name = _call_name(value)
    if name in CONTAINER_CALLS:
        return name
    if name in classes:
        return f"{name} (a container subclass)"
    if name in factories:
        return f"{name}() (returns a container)"
    return None


def module_bindings(path: str, tree: ast.Module) -> Iterator[Binding]:
    module = path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    classes, factories = _container_classes(tree), _container_factories(tree)
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        kind = _kind(value, classes, factories)
        if kind is None:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and target.id != "__all__":
                yield Binding(module, path, target.id, node.lineno, kind)


def _imported_names(tree: ast.Module, module_of: dict[str, str]) -> dict[str, str]:
    """Local name → dotted module, for ``from m import NAME`` of a package module's
    container (aliases followed) and ``import m`` (as ``m.`` prefixes)."""
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if f"{node.module}:{alias.name}" in module_of:
                    out[alias.asname or alias.name] = f"{node.module}:{alias.name}"
    return out


def _target(node: ast.expr, local: dict[str, str], modules: dict[str, str]) -> str | None:
    """The container ``module:NAME`` an expression names, if it names one."""
    if isinstance(node, ast.Name):
        return local.get(node.id)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        module = modules.get(node.value.id)
        return f"{module}:{node.attr}" if module else None
    return None


def _bound_locally(func: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names = {a.arg for a in (*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs)}
    names |= {a.arg for a in (func.args.vararg, func.args.kwarg) if a is not None}
    for node in ast.walk(func):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def mutations(tree: ast.Module, local: dict[str, str],
              modules: dict[str, str]) -> Iterator[tuple[str, int]]:
    """``(module:NAME, line)`` for every change made to a module-level container."""
    shadowed: dict[int, set[str]] = {}
    for func in ast.walk(tree):
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(func):
                shadowed.setdefault(id(node), set()).update(_bound_locally(func))

    def named(node: ast.expr) -> str | None:
        if isinstance(node, ast.Name) and node.id in shadowed.get(id(node), ()):
            return None
        return _target(node, local, modules)

    for node in ast.walk(tree):
        if not isinstance(node, (ast.stmt, ast.expr)):
            continue
        hit: str | None = None
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [
                node.target]
            for target in targets:
                if isinstance(target, ast.Subscript):
                    hit = hit or named(target.value)
                if isinstance(node, ast.AugAssign):
                    hit = hit or named(target)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in MUTATORS:
            hit = named(node.func.value)
        if hit is not None:
            yield hit, node.lineno


def violations(sources: dict[str, str]) -> list[str]:
    """Every finding over ``{relative path: source}``, as ``path:line: what``."""
    trees = {path: ast.parse(text, path) for path, text in sources.items()}
    bindings = {b.module + ":" + b.name: b
                for path, tree in trees.items() for b in module_bindings(path, tree)}
    module_of = {key: b.module for key, b in bindings.items()}
    dotted = {path.removesuffix(".py").removesuffix("/__init__").replace("/", "."): path
              for path in trees}
    out: list[str] = []
    for b in bindings.values():
        if (b.path, b.name) in ALLOWED:
            continue
        if b.kind.split(" ")[0] in STATEFUL_CALLS or "subclass" in b.kind:
            out.append(f"{b.path}:{b.line}: {b.name} is a module-level {b.kind}")
    for path, tree in trees.items():
        module = path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        local = {b.name: key for key, b in bindings.items() if b.module == module}
        local.update(_imported_names(tree, module_of))
        modules = {alias.asname or alias.name: alias.name
                   for node in ast.walk(tree) if isinstance(node, ast.Import)
                   for alias in node.names if alias.name in dotted}
        for key, line in mutations(tree, local, modules):
            b = bindings[key]
            if (b.path, b.name) not in ALLOWED:
                out.append(f"{path}:{line}: changes {b.path}:{b.name}, a module-level "
                           f"{b.kind}")
        for node in tree.body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None \
                    and _call_name(node.value) == "Router":
                out.append(f"{path}:{node.lineno}: a module-level Router (declare a "
                           "Blueprint: bot/router.py)")
        out.extend(f"{path}:{found.lineno}: global {', '.join(found.names)}"
                   for found in ast.walk(tree) if isinstance(found, ast.Global))
    return sorted(set(out))


def _sources() -> dict[str, str]:
    out: dict[str, str] = {}
    for package in PACKAGES:
        for file in sorted((ROOT / package).rglob("*.py")):
            name = file.relative_to(ROOT).as_posix()
            if "/migrations/versions/" not in name:
                out[name] = file.read_text(encoding="utf-8")
    return out


def test_no_module_level_state() -> None:
    assert violations(_sources()) == []


def test_every_allowed_exception_still_exists() -> None:
    """An entry whose name is gone would silently allow the next one of that name."""
    sources = _sources()
    names = {(b.path, b.name) for path, text in sources.items()
             for b in module_bindings(path, ast.parse(text))}
    assert set(ALLOWED) <= names


def test_the_scan_catches_state() -> None:
    """Each kind of module-level state the scan exists for is caught (and constants are
    not)."""
    cache = "from collections import OrderedDict\n_SEEN = OrderedDict()\n"
    filled = ("_BY_ID: dict[str, int] = {}\n"
              "def remember(k: str) -> None:\n    _BY_ID[k] = 1\n")
    appended = "_LOG = []\nfor x in 'ab':\n    _LOG.append(x)\n"
    elsewhere = ("from bot.table import TABLE\n"
                 "def f() -> None:\n    TABLE.update(a=1)\n")
    memo = ("class _Memo(dict[int, int]):\n    def __missing__(self, k: int) -> int:\n"
            "        return k\n_M = _Memo()\n")
    router = "from bot.router import Router\nrouter = Router('x')\n"
    rebound = "_N = 0\ndef bump() -> None:\n    global _N\n    _N += 1\n"
    sources = {"bot/cache.py": cache, "bot/filled.py": filled, "bot/appended.py": appended,
               "bot/table.py": "TABLE = {'a': 0}\n", "bot/elsewhere.py": elsewhere,
               "bot/memo.py": memo, "bot/flow.py": router, "bot/counter.py": rebound}
    found = "\n".join(violations(sources))
    for needle in ("bot/cache.py:2: _SEEN", "bot/filled.py:3: changes bot/filled.py:_BY_ID",
                   "bot/appended.py:3: changes", "bot/elsewhere.py:3: changes bot/table.py",
                   "bot/memo.py:4: _M", "bot/flow.py:2: a module-level Router",
                   "bot/counter.py:3: global _N"):
        assert needle in found, needle
    constants = {"bot/ok.py": "TABLE = {'a': 1}\nNAMES = ['x']\n"
                              "def f(TABLE: dict[str, int]) -> None:\n    TABLE['b'] = 2\n"
                              "def g() -> int:\n    return TABLE['a'] + len(NAMES)\n"}
    assert violations(constants) == []


# ---- channel adapters hold configuration only ------------------------------------------

def _immutable(value: object) -> bool:
    """A configuration value: a string, number, flag, timeout, or a tuple of those."""
    import aiohttp

    if isinstance(value, tuple):
        return all(_immutable(item) for item in value)
    return isinstance(value, (str, bytes, int, float, bool, type(None), frozenset,
                              aiohttp.ClientTimeout))


def test_channel_adapters_hold_configuration_only() -> None:
    """What a channel learns or opens at run time (learned numbers, pooled clients, an
    inbox) lives in its app-owned state (``base.ChannelState``), never on the adapter: an
    adapter is frozen, has no ``__dict__``, and each of its slots holds configuration."""
    from config.settings import Settings
    from webhooks.channels.base import ChannelState
    from webhooks.channels.registry import CHANNEL_CLASSES, build_channel_states, build_channels

    settings = Settings().with_env(HAAT_SIMULATOR_TOKEN="t", TWILIO_ACCOUNT_SID="AC1",
                                   TWILIO_AUTH_TOKEN="a", WHATSAPP_ACCESS_TOKEN="w",
                                   WHATSAPP_APP_SECRET="s")
    states = build_channel_states(settings)
    adapters = build_channels(settings, states)
    assert set(adapters) == {cls.name for cls in CHANNEL_CLASSES} == set(states)
    for name, adapter in adapters.items():
        assert not hasattr(adapter, "__dict__"), f"{name}: an adapter with a __dict__"
        slots = [slot for cls in type(adapter).__mro__
                 for slot in getattr(cls, "__slots__", ()) if slot != "__weakref__"]
        for slot in slots:
            value = getattr(adapter, slot)
            assert _immutable(value) or (slot == "state" and value is states[name]
                                         and isinstance(value, ChannelState)), \
                f"{name}.{slot} is {value!r}"
        for attr, value in vars(type(adapter)).items():
            if attr.startswith("__"):  # __annotations__, __dataclass_fields__ …
                continue
            assert not isinstance(value, (dict, list, set, bytearray)), f"{name}.{attr}"
        try:
            setattr(adapter, "state", None)  # noqa: B010 - the point is that it is refused
        except AttributeError:  # dataclasses.FrozenInstanceError
            pass
        else:
            raise AssertionError(f"{name}: the adapter can be changed after it is built")
