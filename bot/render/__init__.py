"""Rendering digests: Jinja2 templates in, Discord message payloads out.

The package follows the work: :mod:`~bot.render.environment` (loaders, names, errors),
:mod:`~bot.render.sandbox` (the budget), :mod:`~bot.render.escape` and
:mod:`~bot.render.filters` (Discord Markdown and safe links), :mod:`~bot.render.views` (what
templates see), :mod:`~bot.render.blocks` (the block protocol), :mod:`~bot.render.pack` (fitting
into Discord's limits) and :mod:`~bot.render.renderer`, which puts them together.
"""

from bot.render.environment import builtin_templates
from bot.render.filters import Md, SafeUrl
from bot.render.pack import PackedMessage, allowed_mentions
from bot.render.renderer import Renderer, sample_article

__all__ = [
    "Md",
    "PackedMessage",
    "Renderer",
    "SafeUrl",
    "allowed_mentions",
    "builtin_templates",
    "sample_article",
]
