"""Articles: the model (``model``), reading and writing front-matter files (``frontmatter``),
every URL rule (``urls``), and writing the queue back as files (``export``).

``export`` is not imported here: it reads the store's records, and the store imports the model
from this package, so importing it here would make the two packages import each other.
"""

from bot.articles.frontmatter import (
    MAX_FILE_BYTES,
    export_text,
    parse_article,
    source_hash,
    submitted_article,
)
from bot.articles.model import Article, Image, Provider, Related
from bot.articles.urls import canonical_url

__all__ = [
    "MAX_FILE_BYTES",
    "Article",
    "Image",
    "Provider",
    "Related",
    "canonical_url",
    "export_text",
    "parse_article",
    "source_hash",
    "submitted_article",
]
