# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""On-disk cache for the offline worlds: one folder per (world, config), built once under a file lock.

A world is keyed by a hash of its full config (and of the world's format version), so changing any size or seed
builds a new folder and never overwrites an old one. The build writes into a temporary sibling folder that is
renamed into place only when complete: an interrupted build leaves nothing half-written that looks finished, and
parallel processes (pytest-xdist workers, DDP ranks) wait on the lock and then reuse the one build.

Example:
    >>> import tempfile
    >>> from hf_unlearn.synthetic.cache import cached_build
    >>> root = tempfile.mkdtemp()
    >>> path = cached_build("demo", {"seed": 0}, lambda d: (d / "x.txt").write_text("hi"), cache_dir=root)
    >>> (path / "x.txt").read_text()
    'hi'
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar


if TYPE_CHECKING:
    from transformers import PreTrainedModel


CACHE_ENV = "HF_UNLEARN_CACHE"
_DONE = ".complete"


def default_cache_dir() -> Path:
    """`$HF_UNLEARN_CACHE`, else `~/.cache/hf_unlearn`."""
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "hf_unlearn")).expanduser()


def config_hash(config: dict[str, Any]) -> str:
    """A short stable hash of a JSON-serialisable config."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def is_complete(path: str | os.PathLike) -> bool:
    """Whether `path` is a finished build."""
    return (Path(path) / _DONE).is_file()


def cached_build(
    name: str,
    config: dict[str, Any],
    build: Callable[[Path], Any],
    cache_dir: str | os.PathLike | None = None,
    output_dir: str | os.PathLike | None = None,
    force: bool = False,
) -> Path:
    """Returns a finished build of `name` with `config`, building it with `build(tmp_dir)` if needed.

    Args:
        name (`str`): The world's name, e.g. `"tofu"`.
        config (`dict`): Everything the build depends on (JSON-serialisable); its hash names the folder.
        build (`Callable[[Path], Any]`): Writes the world into the (empty, temporary) folder it is given.
        cache_dir (`str`, *optional*): The cache root; defaults to [`default_cache_dir`].
        output_dir (`str`, *optional*): Build exactly here instead of in the cache (an existing finished build
            with the same config is reused; a folder holding anything else is refused, never overwritten).
        force (`bool`, *optional*, defaults to `False`): Rebuild even if a finished build exists.

    Returns:
        `Path`: The finished folder.
    """
    from filelock import FileLock

    if output_dir is not None:
        target = Path(output_dir).expanduser().resolve()
    else:
        target = Path(cache_dir or default_cache_dir()).expanduser() / "worlds" / f"{name}-{config_hash(config)}"
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if is_complete(target) and not force:
            stored = json.loads((target / _DONE).read_text())
            if stored.get("config") != json.loads(json.dumps(config, default=str)):
                raise ValueError(
                    f"{target} already holds a {name!r} world built with a different config; "
                    "choose another --output_dir (nothing was overwritten)."
                )
            return target
        if target.exists() and any(target.iterdir()) and not is_complete(target) and output_dir is not None:
            raise ValueError(
                f"output_dir {target} exists and is not an hf_unlearn world; choose an empty or new folder "
                "(nothing was overwritten)."
            )
        tmp = target.with_name(target.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        build(tmp)
        (tmp / _DONE).write_text(json.dumps({"name": name, "config": config}, indent=2, default=str))
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    return target


@dataclass
class WorldFolder:
    """A built world folder: its `world.json` manifest and `from_pretrained` model folders (base of `TofuWorld`,
    `MuseWorld`).

    Args:
        path (`Path`): The world's root (holds `world.json`).
        manifest (`dict`): The parsed `world.json`.
    """

    path: Path
    manifest: dict[str, Any] = field(repr=False)

    #: The `"world"` name in the manifest, and the name used in messages; set by subclasses.
    world: ClassVar[str] = ""
    title: ClassVar[str] = "offline"

    @classmethod
    def from_path(cls, path: str | os.PathLike) -> WorldFolder:
        """Opens a built world folder."""
        path = Path(path)
        manifest_file = path / "world.json"
        if not path.is_dir():
            raise ValueError(
                f"{path}: no such folder. Build a {cls.title} world there with `hf-unlearn build-world {cls.world} "
                f"--output_dir {path}` (or `build_{cls.world}_world(output_dir=...)`)."
            )
        if not manifest_file.is_file():
            raise ValueError(
                f"{path} is not a {cls.title} world (no world.json); build one with build_{cls.world}_world."
            )
        manifest = json.loads(manifest_file.read_text())
        if manifest.get("world", cls.world) != cls.world:
            raise ValueError(f"{path} is a {manifest.get('world')!r} world, not a {cls.title} world.")
        return cls(path=path, manifest=manifest)

    @property
    def data_dir(self) -> Path:
        """The dataset folder."""
        return self.path / "data"

    @property
    def model_names(self) -> list[str]:
        """The models in this world."""
        return list(self.manifest["models"])

    def model_path(self, name: str) -> Path:
        """The folder of model `name`."""
        if name not in self.manifest["models"]:
            raise ValueError(f"this world has no model {name!r}; it has {self.model_names}.")
        return self.path / self.manifest["models"][name]["path"]

    def load_model(self, name: str) -> PreTrainedModel:
        """Loads model `name` with `AutoModelForCausalLM.from_pretrained`."""
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(self.model_path(name))
