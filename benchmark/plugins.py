"""Resolve a manifest's `use` to a component: a registered name, an entry point, or module:Class.

- a registered name (`none`, `context`, `dense`, ...);
- a name a third-party package registers through the entry-point groups
  `iqbench.augmenters` / `iqbench.retrievers`;
- `module:Class`, loaded from `module.py` in the submission's own folder, else from an
  installed package.

Unknown names get a did-you-mean. Arguments named `path` or ending in `_path` / `_file`
are files of the submission: they must stay inside its folder and reach the component as
absolute paths (the manifest keeps them relative, so configurations hash the same anywhere).
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any, Callable

from benchmark.storage import sha256_bytes, sha256_file

MODULE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
KINDS = {
    "augmenter": ("iqbench.augmenters", ("augment", "fingerprint"), ("name", "oracle")),
    "retriever": ("iqbench.retrievers", ("index", "search", "fingerprint"), ("name",)),
}


class PluginError(ValueError):
    """A component that cannot be found, loaded or built; the message says what was expected."""


def _registered(kind: str) -> dict[str, Callable[..., Any]]:
    if kind == "augmenter":
        from benchmark.augmenters import AUGMENTERS
        return AUGMENTERS
    from benchmark.retrievers import RETRIEVERS
    return RETRIEVERS


def _entry_points(kind: str) -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=KINDS[kind][0])}


def available(kind: str) -> list[str]:
    return sorted(set(_registered(kind)) | set(_entry_points(kind)))


def _module_file(module: str, folder: Path | None) -> Path | None:
    """`module.py` in the submission folder, if `module` names one (a plain, undotted name)."""
    if folder is None or "." in module or not MODULE_NAME.fullmatch(module):
        return None
    path = Path(folder) / f"{module}.py"
    return path if path.is_file() else None


def _from_folder(module: str, folder: Path) -> Any | None:
    """`module.py` in the submission folder, imported under a name private to that folder."""
    path = _module_file(module, folder)
    if path is None:
        return None
    name = f"iqbench_submission_{sha256_bytes(str(folder.resolve()).encode())[:12]}_{module}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded
    try:
        spec.loader.exec_module(loaded)
    except Exception as e:
        del sys.modules[name]
        raise PluginError(f"{path}: importing it failed: {type(e).__name__}: {e}") from e
    return loaded


def content_hashes(use: str, args: dict[str, Any], folder: Path | None) -> dict[str, str]:
    """Hashes of the submission files a component depends on: its module (module:Class from
    the folder) and its file arguments. Editing any of them makes its results stale."""
    hashes = {}
    if ":" in use and (path := _module_file(use.partition(":")[0], folder)):
        hashes[path.name] = sha256_file(path)
    if folder:
        for key, value in resolve_paths(args, folder).items():
            if value != args[key] and Path(value).is_file():
                hashes[str(args[key])] = sha256_file(Path(value))
    return hashes


def resolve(kind: str, use: str, folder: Path | None = None) -> Callable[..., Any]:
    """The factory (usually a class) that `use` names."""
    registered = _registered(kind)
    if use in registered:
        return registered[use]
    entry_points = _entry_points(kind)
    if use in entry_points:
        try:
            return entry_points[use].load()
        except Exception as e:
            raise PluginError(f"{kind} {use!r}: its entry point {entry_points[use].value!r} failed to load: "
                              f"{type(e).__name__}: {e}") from e
    if ":" in use:
        module_name, _, attr = use.partition(":")
        if not MODULE_NAME.fullmatch(module_name) or not attr.isidentifier():
            raise PluginError(f"{kind} {use!r}: expected 'module:Class' with a Python module name (a file "
                              "module.py in the submission folder, or an installed package's dotted name)")
        module = _from_folder(module_name, Path(folder)) if folder else None
        if module is None:
            try:
                module = importlib.import_module(module_name)
            except Exception as e:  # ImportError, or the module itself failing at import
                where = f" (no {module_name}.py in {Path(folder).name}/ either)" if folder else ""
                raise PluginError(f"{kind} {use!r}: cannot import module {module_name!r}{where}: {e}") from e
        if not hasattr(module, attr):
            raise PluginError(f"{kind} {use!r}: module {module_name!r} has no attribute {attr!r}")
        return getattr(module, attr)
    close = difflib.get_close_matches(use, available(kind), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise PluginError(f"unknown {kind} {use!r}{hint} Registered: {', '.join(available(kind))}; "
                      "or give 'module:Class'")


def resolve_paths(args: dict[str, Any], folder: Path | None) -> dict[str, Any]:
    """Arguments naming submission files, checked to stay inside the folder and made absolute."""
    out = dict(args)
    for key, value in args.items():
        if not (key == "path" or key.endswith(("_path", "_file"))):
            continue
        if folder is None:
            raise PluginError(f"argument {key!r}: a file argument needs a submission folder")
        if not isinstance(value, str) or not value:
            raise PluginError(f"argument {key!r}: expected a relative path inside the submission folder")
        root = Path(folder).resolve()
        target = (root / value).resolve()
        if Path(value).is_absolute() or not target.is_relative_to(root):
            raise PluginError(f"argument {key!r} = {value!r}: paths must stay inside the submission folder")
        out[key] = str(target)
    return out


def check_component(kind: str, component: Any, use: str) -> Any:
    """The built object offers what the Protocol needs (methods and attributes)."""
    _, methods, attributes = KINDS[kind]
    if kind == "retriever" and getattr(component, "reads_context", False) is True:  # the context-aware form
        methods = tuple("search_inputs" if m == "search" else m for m in methods)
    missing = [m for m in methods if not callable(getattr(component, m, None))]
    missing += [a for a in attributes if not hasattr(component, a)]
    if missing:
        raise PluginError(f"{kind} {use!r} does not implement the {kind.capitalize()} protocol: "
                          f"missing {', '.join(missing)} (see SUBMITTING.md)")
    return component


def build(kind: str, use: str, args: dict[str, Any] | None = None, folder: Path | None = None) -> Any:
    factory = resolve(kind, use, folder)
    kwargs = resolve_paths(args or {}, folder)
    try:
        component = factory(**kwargs)
    except PluginError:
        raise
    except Exception as e:
        raise PluginError(f"{kind} {use!r}: building it with arguments {sorted(kwargs)} failed: "
                          f"{type(e).__name__}: {e}") from e
    return check_component(kind, component, use)
