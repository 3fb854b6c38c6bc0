# Copyright 2026 The hf_unlearn developers. Licensed under the Apache License, Version 2.0.
"""Model cards and Hub uploads for unlearned models and text encoders.

Cards are rendered from the Jinja templates in `model_cards/` (shipped with the package) by
`huggingface_hub.ModelCard.from_template`, so their YAML metadata (tags, base model, `model-index` results) is what
the Hub shows. Uploads check for a token *before* anything is created, so a missing login fails fast and leaves the
local folder untouched.

Example:
    >>> import tempfile
    >>> from hf_unlearn.hub import save_model_card
    >>> folder = tempfile.mkdtemp()
    >>> card = save_model_card(folder, "unlearned_llm", {"license": "apache-2.0", "tags": ["unlearning"]},
    ...                        method="SimNPO", base_model="my-org/my-model", forget_split="forget10")
    >>> card.name
    'README.md'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


TEMPLATES_DIR = Path(__file__).parent / "model_cards"
TOKEN_HELP = (
    "no Hugging Face Hub token found: log in with `hf auth login`, set the HF_TOKEN environment variable, "
    "or pass the token explicitly (`--hub_token` on the command line)."
)


def template_path(template_name: str | os.PathLike) -> Path:
    """Resolves a card template: a name in `model_cards/` (e.g. `"unlearned_llm"`) or a path to a `.md` file."""
    path = Path(template_name)
    if path.suffix == ".md" and path.is_file():
        return path
    path = TEMPLATES_DIR / f"{template_name}.md"
    if not path.is_file():
        available = sorted(p.stem for p in TEMPLATES_DIR.glob("*.md"))
        raise ValueError(f"unknown model card template {template_name!r}; available: {available} (or a .md path).")
    return path


def render_model_card(template_name: str | os.PathLike, card_data: dict[str, Any], **template_fields: Any):
    """Renders a card template with YAML metadata `card_data` and the template's own fields.

    Args:
        template_name (`str` or `os.PathLike`): See [`template_path`].
        card_data (`dict`): Card metadata (`license`, `tags`, `base_model`, `datasets`, `model-index`, ...).
        **template_fields: Values the template's Jinja body uses.

    Returns:
        `huggingface_hub.ModelCard`: The card (`.data` holds the metadata, `str(card)` the full text).
    """
    from huggingface_hub import ModelCard, ModelCardData

    data = dict(card_data)
    # Keep Jinja's `card_data` variable and the YAML front matter in step.
    return ModelCard.from_template(
        ModelCardData(**data), template_path=str(template_path(template_name)), **template_fields
    )


def save_model_card(
    folder: str | os.PathLike, template_name: str | os.PathLike, card_data: dict[str, Any], **template_fields: Any
) -> Path:
    """Renders a card (see [`render_model_card`]) into `folder/README.md` and returns that path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    card = render_model_card(template_name, card_data, **template_fields)
    path = folder / "README.md"
    card.save(path)
    return path


def resolve_token(token: str | None = None) -> str:
    """Returns `token`, or the one from `HF_TOKEN` / the local login; raises a `ValueError` saying how to log in."""
    from huggingface_hub import get_token

    token = token or get_token()
    if not token:
        raise ValueError(TOKEN_HELP)
    return token


def push_to_hub(
    folder: str | os.PathLike,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    commit_message: str = "Upload unlearned model with hf_unlearn",
    endpoint: str | None = None,
    path_in_repo: str | None = None,
    ignore_patterns: list[str] | None = None,
) -> str:
    """Uploads a local folder (model, text encoder, card) to a Hub model repo, creating the repo if needed.

    Args:
        folder (`str` or `os.PathLike`): The folder to upload (left unchanged).
        repo_id (`str`): `"user/name"` or `"org/name"`.
        token (`str`, *optional*): A write token; defaults to `HF_TOKEN` or the local login.
        private (`bool`, *optional*, defaults to `False`): Create the repo as private.
        commit_message (`str`, *optional*): The commit message.
        endpoint (`str`, *optional*): Another Hub endpoint (defaults to `HF_ENDPOINT` / huggingface.co).
        path_in_repo (`str`, *optional*): Upload into this sub-folder of the repo.
        ignore_patterns (`list[str]`, *optional*): Files not to upload (checkpoints are skipped by default).

    Returns:
        `str`: The URL of the commit.
    """
    from huggingface_hub import HfApi

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"cannot push {folder}: it is not a folder.")
    if not repo_id or repo_id.count("/") > 1:
        raise ValueError(f"hub_model_id must look like 'user/name', got {repo_id!r}.")
    token = resolve_token(token)
    api = HfApi(endpoint=endpoint, token=token)
    repo_url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    info = api.upload_folder(
        repo_id=repo_url.repo_id,
        folder_path=folder,
        path_in_repo=path_in_repo,
        commit_message=commit_message,
        ignore_patterns=ignore_patterns if ignore_patterns is not None else ["checkpoint-*", "checkpoint-*/**"],
    )
    return info.commit_url
