"""A generated corpus of malformed and hostile article files (issue 7, part 4).

:func:`cases` builds every file in memory, deterministically (no randomness without a fixed
seed); :func:`write` puts them in a folder. Each :class:`Case` says what newsbot must do:

- ``reject``: exactly one ``PATH:LINE: problem`` line on stderr, ``problem`` containing the
  case's ``problem`` text;
- ``store``: stored (the test then renders it and checks that nothing in it can mention, link
  or format where it should not);
- ``either``: one of the two, e.g. a truncation whose outcome depends on where the cut falls.

Every document has its own ``webUrl`` (``https://corpus.example/<name>``), written first so
that truncations keep it, which maps stored items back to their files.
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Expect = Literal["reject", "store", "either"]

CORPUS_HOST = "https://corpus.example/"


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    expect: Expect
    problem: str | None = None

    @property
    def file_name(self) -> str:
        return f"{self.name}.md"

    @property
    def url(self) -> str:
        return CORPUS_HOST + self.name


# ---------------------------------------------------------------------------------------------
# Building documents


def q(text: str) -> str:
    """``text`` as a YAML double-quoted scalar; control characters as escapes (YAML does not
    allow most of them raw in a file), everything else literally."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif code < 0x20 or 0x7F <= code <= 0x9F:
            out.append(f"\\x{code:02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_BASE: dict[str, str] = {
    "title": q("A perfectly ordinary story"),
    "excerpt": q("Nothing to see here; an excerpt of a few words."),
    "publishedDateTime": "2024-05-01T09:30:00Z",
    "category": "news",
    "type": "article",
    "provider": "{name: Example News, domain: news.example.com}",
    "topics": "[AI, Policy]",
    "images": '[{url: "https://img.example/a.jpg", width: 640, height: 360}]',
    "quality": "70",
    "heat": "5",
    "published": "false",
    "related": (
        '[{title: "Another take", webUrl: "https://other.example/take",'
        " provider: {name: Other Outlet, domain: other.example}, quality: 60}]"
    ),
}


def lines_for(
    name: str,
    *,
    before: Sequence[str] = (),
    after: Sequence[str] = (),
    drop: Sequence[str] = (),
    **values: str,
) -> list[str]:
    """The YAML lines of a full article: ``webUrl`` first, the base fields with ``values``
    replacing theirs (raw YAML text), ``before`` lines (anchors) ahead of them."""
    fields = {"webUrl": q(CORPUS_HOST + name), **_BASE, **values}
    lines = list(before)
    for key, value in fields.items():
        if key not in drop:
            lines.append(f"{key}: {value}")
    lines.extend(after)
    return lines


def front(lines: Sequence[str], body: str = "") -> bytes:
    return ("---\n" + "\n".join(lines) + "\n---\n" + body).encode("utf-8")


def doc(name: str, *, body: str = "", **kwargs: object) -> bytes:
    return front(lines_for(name, **kwargs), body)  # type: ignore[arg-type]


class _Cases:
    """Collects cases with numbered, unique names per category."""

    def __init__(self) -> None:
        self.items: list[Case] = []
        self.names: set[str] = set()

    def name(self, category: str, slug: str) -> str:
        name = f"{category}-{len(self.items):03d}-{slug}"
        assert name not in self.names
        self.names.add(name)
        return name

    def add(
        self,
        category: str,
        slug: str,
        expect: Expect,
        build: object,
        problem: str | None = None,
    ) -> None:
        """``build`` is bytes, or a function of the case name returning bytes."""
        name = self.name(category, slug)
        data = build(name) if callable(build) else build
        assert isinstance(data, bytes)
        self.items.append(Case(name, data, expect, problem))


# ---------------------------------------------------------------------------------------------
# The corpus


def _truncated(c: _Cases) -> None:
    for n in range(24):
        name = c.name("truncated", f"fenced-{n:02d}")
        text = "\n".join(lines_for(name, title=q("Truncated: «é» and more")))
        first = text.index("\n") + 1
        cut = first + (len(text) - first) * (n + 1) // 25
        data = ("---\n" + text[:cut] + "\n---\n").encode("utf-8")
        c.items.append(Case(name, data, "either"))
    for n in range(6):
        name = c.name("truncated", f"unclosed-{n}")
        text = "\n".join(lines_for(name))
        cut = len(text) * (n + 1) // 7
        c.items.append(
            Case(name, ("---\n" + text[:cut]).encode(), "reject", "front matter is not closed")
        )
    c.add("truncated", "mid-key", "reject", b"---\nwebUr\n---\n", "must be a mapping")
    c.add(
        "truncated",
        "mid-url",
        "reject",
        b'---\nwebUrl: "https://corp\n---\n',
        "YAML syntax error",
    )
    c.add("truncated", "fence-only", "reject", b"---\n", "front matter is not closed")
    c.add("truncated", "dashes", "reject", b"--", "not a front-matter document")

    def mid_utf8(name: str) -> bytes:
        data = doc(name, title=q("Café society"))
        return data[: data.index(b"Caf") + 4] + b'"\n---\n'  # half of "é"

    c.add("truncated", "mid-utf8", "reject", mid_utf8, "not valid UTF-8")


def _syntax(c: _Cases) -> None:
    syntax = "YAML syntax error"
    for slug, value_key, value in [
        ("unclosed-flow-seq", "topics", "[AI, Policy"),
        ("unclosed-flow-map", "provider", "{name: x, domain: y"),
        ("unclosed-double-quote", "title", '"never closed'),
        ("unclosed-single-quote", "title", "'never closed"),
        ("colon-in-plain", "title", "a: b: c"),
        ("stray-bracket", "title", "]"),
        ("stray-brace", "excerpt", "}"),
        ("undefined-alias", "title", "*nowhere"),
        ("bad-escape", "title", '"\\q is no escape"'),
        ("bad-unicode-escape", "title", '"\\uZZZZ"'),
        ("reserved-indicator", "title", "@handle"),
        ("backtick-indicator", "title", "`cmd`"),
    ]:
        c.add("syntax", slug, "reject", lambda n, k=value_key, v=value: doc(n, **{k: v}), syntax)
    c.add(
        "syntax",
        "bad-indent",
        "reject",
        lambda n: front(
            [f"webUrl: {q(CORPUS_HOST + n)}", "title: x", "provider:", "  name: a", "    domain: b"]
        ),
        syntax,
    )
    c.add(
        "syntax",
        "tab-indent",
        "reject",
        lambda n: front([f"webUrl: {q(CORPUS_HOST + n)}", "title: x", "provider:", "\tname: a"]),
        syntax,
    )
    c.add(
        "syntax",
        "mixed-seq-map",
        "reject",
        lambda n: front(
            [f"webUrl: {q(CORPUS_HOST + n)}", "title: x", "topics:", "- a", "b: c", "- d"]
        ),
        syntax,
    )
    c.add(
        "syntax",
        "duplicate-anchor",
        "either",
        lambda n: doc(n, before=["a: &x 1", "b: &x 2"]),
    )
    c.add("syntax", "scalar-front", "reject", b"---\njust some text\n---\n", "must be a mapping")
    c.add("syntax", "list-front", "reject", b"---\n- a\n- b\n---\n", "must be a mapping")
    c.add("syntax", "empty-front", "reject", b"---\n---\nbody\n", "front matter is empty")
    c.add("syntax", "comments-only", "reject", b"---\n# nothing\n---\n", "front matter is empty")
    c.add("syntax", "null-front", "reject", b"---\n~\n---\n", "front matter is empty")
    c.add("syntax", "directive", "reject", b"---\n%YAML 1.1\n---\n", "YAML")
    c.add("syntax", "no-fence", "reject", b"title: x\n---\n", "not a front-matter document")
    c.add("syntax", "indented-fence", "reject", b" ---\ntitle: x\n---\n", "not a front-matter")
    c.add("syntax", "whitespace-only", "reject", b" \n\t\n\n", "empty file")
    c.add("syntax", "missing-title", "reject", lambda n: doc(n, drop=["title"]), "title: missing")
    c.add("syntax", "empty-title", "reject", lambda n: doc(n, title='""'), "title: must not be")
    c.add("syntax", "blank-title", "reject", lambda n: doc(n, title='"   "'), "title: must not")
    c.add("syntax", "null-title", "reject", lambda n: doc(n, title="~"), "title: must not be")
    c.add(
        "syntax",
        "missing-weburl",
        "reject",
        front(["title: No link", "excerpt: x"]),
        "webUrl: missing",
    )
    # Valid variants that must be stored.
    c.add(
        "syntax",
        "dots-end-marker",
        "store",
        lambda n: ("---\n" + "\n".join(lines_for(n)) + "\n...\nbody\n").encode(),
    )
    c.add(
        "syntax",
        "crlf",
        "store",
        lambda n: ("---\r\n" + "\r\n".join(lines_for(n)) + "\r\n---\r\nbody\r\n").encode(),
    )
    c.add(
        "syntax",
        "json-front",
        "store",
        lambda n: front([json.dumps({"webUrl": CORPUS_HOST + n, "title": "JSON front matter"})]),
    )
    c.add(
        "syntax",
        "complex-key",
        "store",
        lambda n: front([f"webUrl: {q(CORPUS_HOST + n)}", "? title", ": Complex key syntax"]),
    )


def _laughs(levels: int) -> list[str]:
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    return lines


def _bombs(c: _Cases) -> None:
    laughs = _laughs(9)  # 9**9 = 387,420,489 "lol"s if expanded
    top = "*l8"
    for key, problem in [
        ("related", "related: entry 1: expected a mapping, got a list"),
        ("topics", "topics: entry 1: expected a string, got a list"),
        ("images", "images: entry 1: expected a mapping, got a list"),
        ("provider", "provider: expected a mapping"),
        ("title", "title: expected a string, got a list"),
        ("excerpt", "excerpt: expected a string, got a list"),
        ("category", "category: expected a string, got a list"),
    ]:
        c.add(
            "bomb",
            f"laughs-{key.lower()}",
            "reject",
            lambda n, k=key: doc(n, before=laughs, **{k: top}),
            problem,
        )
    c.add(
        "bomb",
        "laughs-weburl",
        "reject",
        lambda n: front([*laughs, "title: x", f"webUrl: {top}"]),
        "webUrl: expected a string, got a list",
    )
    c.add("bomb", "laughs-unknown-field", "store", lambda n: doc(n, before=laughs, lol=top))
    c.add(
        "bomb",
        "laughs-30-levels",
        "store",
        lambda n: doc(n, before=[*_laughs(30)], lol="*l29"),
    )
    c.add(
        "bomb",
        "laughs-related-images",
        "reject",
        lambda n: doc(
            n,
            before=laughs,
            related=f'[{{title: t, webUrl: "https://r.example/1", images: {top}}}]',
        ),
        "related: entry 1: expected a mapping, got a list",
    )
    # Each of these once repr()'d the whole alias graph in an error message; one 8-level
    # bomb is enough to show it stays bounded without costing the suite a minute.
    for key in ("quality", "heat", "published", "publishedDateTime"):
        c.add(
            "bomb",
            f"laughs-{key.lower()}",
            "reject",
            lambda n, k=key: doc(n, before=_laughs(8), **{k: "*l7"}),
            f"{key}: ",
        )
    merge = ["m0: &m0 {k0: v, k1: v, k2: v, k3: v, k4: v, k5: v, k6: v, k7: v, k8: v, k9: v}"]
    for i in range(1, 12):
        merge.append(f"m{i}: &m{i} {{<<: [" + ",".join([f"*m{i - 1}"] * 10) + "]}")
    c.add("bomb", "merge-keys-provider", "store", lambda n: doc(n, before=merge, provider="*m11"))
    c.add("bomb", "merge-keys-unknown", "store", lambda n: doc(n, before=merge, extra="*m11"))
    c.add("bomb", "recursive-related", "reject", lambda n: doc(n, related="&r [*r]"), "related:")
    c.add("bomb", "recursive-topics", "reject", lambda n: doc(n, topics="&t [a, *t]"), "topics:")
    c.add("bomb", "recursive-unknown", "store", lambda n: doc(n, loop="&u [a, [b, *u]]"))
    c.add(
        "bomb",
        "recursive-provider",
        "reject",
        lambda n: doc(n, provider="&p {name: x, domain: *p}"),
        "provider: domain: expected a string",
    )
    image = ['img: &img {url: "https://img.example/x.jpg", width: 10, height: 10}']
    many_images = [*image, "imgs: &imgs [" + ",".join(["*img"] * 5_000) + "]"]
    rel = 'rel: &rel {title: Coverage, webUrl: "https://rel.example/x", images: *imgs}'
    c.add(
        "bomb",
        "aliased-related-100",
        "store",
        lambda n: doc(n, before=[*many_images, rel], related="[" + ",".join(["*rel"] * 100) + "]"),
    )
    c.add(
        "bomb",
        "aliased-related-101",
        "reject",
        lambda n: doc(n, before=[*many_images, rel], related="[" + ",".join(["*rel"] * 101) + "]"),
        "related: too many entries (101; at most 100)",
    )
    c.add(
        "bomb", "aliased-images-5000", "store", lambda n: doc(n, before=many_images, images="*imgs")
    )
    topic = ["t: &t AI"]
    c.add(
        "bomb",
        "aliased-topics-200",
        "store",
        lambda n: doc(n, before=topic, topics="[" + ",".join(["*t"] * 200) + "]"),
    )
    c.add(
        "bomb",
        "aliased-topics-201",
        "reject",
        lambda n: doc(n, before=topic, topics="[" + ",".join(["*t"] * 201) + "]"),
        "topics: too many entries (201; at most 200)",
    )
    big = "x" * 19_000
    c.add(
        "bomb",
        "aliased-big-excerpt",
        "store",
        lambda n: doc(
            n,
            before=[f"e: &e {big}"],
            excerpt="*e",
            related="["
            + ",".join(['{title: t, webUrl: "https://r.example/", excerpt: *e}'] * 100)
            + "]",
        ),
    )


def _nesting(c: _Cases) -> None:
    depth_problem = "YAML syntax error: exceeded maximum nesting depth"
    for depth in (1_001, 10_000, 200_000):
        c.add(
            "nesting",
            f"flow-seq-{depth}",
            "reject",
            lambda n, d=depth: doc(n, related="[" * d + "]" * d),
            depth_problem,
        )
    c.add(
        "nesting",
        "flow-map-5000",
        "reject",
        lambda n: doc(n, extra="{a: " * 5_000 + "1" + "}" * 5_000),
        depth_problem,
    )
    c.add(
        "nesting",
        "unclosed-200000",
        "reject",
        lambda n: doc(n, extra="[" * 200_000),
        "YAML syntax error",
    )
    c.add(
        "nesting",
        "flow-seq-990-unknown",
        "either",
        lambda n: doc(n, extra="[" * 990 + "]" * 990),
    )
    c.add(
        "nesting",
        "flow-seq-990-related",
        "reject",
        lambda n: doc(n, related="[" * 990 + "]" * 990),
        "related: entry 1: expected a mapping, got a list",
    )
    c.add(
        "nesting",
        "flow-map-990-provider",
        "reject",
        lambda n: doc(n, provider="{name: " * 990 + "x" + "}" * 990),
        "provider: name: expected a string",
    )

    def block(name: str) -> bytes:
        lines = [*lines_for(name), "deep:"]
        lines += [" " * (i + 1) + "-" for i in range(400)]
        return front(lines)

    c.add("nesting", "block-seq-400", "either", block)


def _huge(c: _Cases) -> None:
    c.add("huge", "title-1000", "store", lambda n: doc(n, title=q("T" * 1_000)))
    c.add(
        "huge",
        "title-1001",
        "reject",
        lambda n: doc(n, title=q("T" * 1_001)),
        "title: too long (1,001 characters; at most 1,000)",
    )
    c.add("huge", "excerpt-20000", "store", lambda n: doc(n, excerpt=q("word " * 4_000)))
    c.add(
        "huge",
        "excerpt-20001",
        "reject",
        lambda n: doc(n, excerpt=q("e" * 20_001)),
        "excerpt: too long (20,001 characters",
    )
    c.add(
        "huge",
        "category-201",
        "reject",
        lambda n: doc(n, category=q("c" * 201)),
        "category: too long",
    )
    c.add(
        "huge",
        "weburl-2049",
        "reject",
        lambda n: front([f"webUrl: {q(CORPUS_HOST + n + '/' + 'p' * 2_100)}", "title: x"]),
        "webUrl: ",
    )
    c.add("huge", "unknown-900k", "store", lambda n: doc(n, blob=q("b" * 900_000)))
    c.add("huge", "body-900k", "store", lambda n: doc(n, body="body line\n" * 90_000))
    c.add(
        "huge",
        "file-1mib-plus-1",
        "reject",
        lambda n: (lambda d: d + b"x" * (1024 * 1024 + 1 - len(d)))(doc(n, body="")),
        "file too large",
    )
    c.add(
        "huge", "keys-20000", "store", lambda n: doc(n, after=[f"k{i}: {i}" for i in range(20_000)])
    )
    c.add(
        "huge",
        "topics-201",
        "reject",
        lambda n: doc(n, topics="[" + ",".join(f"t{i}" for i in range(201)) + "]"),
        "topics: too many entries",
    )
    c.add(
        "huge",
        "related-101",
        "reject",
        lambda n: doc(
            n,
            related="["
            + ",".join(f'{{title: r{i}, webUrl: "https://r.example/{i}"}}' for i in range(101))
            + "]",
        ),
        "related: too many entries",
    )
    c.add("huge", "one-line-1mib", "reject", b"a" * (1024 * 1024 - 1), "not a front-matter")
    c.add("huge", "list-100k", "store", lambda n: doc(n, items="[" + "1," * 100_000 + "1]"))
    c.add(
        "huge",
        "long-lines",
        "store",
        lambda n: doc(n, title=q("word " * 199), excerpt=q("y" * 19_999)),
    )


def _binary(c: _Cases) -> None:
    rng = random.Random(7)
    noise = bytes(rng.randrange(256) for _ in range(4_096))
    c.add("binary", "random", "reject", noise, "")
    c.add("binary", "png", "reject", b"\x89PNG\r\n\x1a\n" + noise[:512], "")
    c.add("binary", "gzip", "reject", lambda n: gzip.compress(doc(n), mtime=0), "")
    c.add("binary", "elf", "reject", b"\x7fELF\x02\x01\x01" + noise[:256], "")
    c.add("binary", "pdf", "reject", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + noise[:256], "")
    c.add("binary", "zeros", "reject", b"\x00" * 1_000, "contains NUL bytes")
    c.add(
        "binary",
        "nul-in-title",
        "reject",
        lambda n: doc(n).replace(b"ordinary", b"ordi\x00nary"),
        "contains NUL bytes",
    )
    c.add(
        "binary",
        "binary-body",
        "reject",
        lambda n: doc(n, body="text\n") + noise[:64],
        "not valid UTF-8",
    )
    c.add("binary", "ff-fe", "reject", b"\xff\xfe", "not valid UTF-8")
    c.add(
        "binary",
        "printable-noise",
        "reject",
        bytes(rng.randrange(32, 127) for _ in range(2_000)),
        "not a front-matter",
    )


def _encodings(c: _Cases) -> None:
    def text(name: str) -> str:
        return "---\n" + "\n".join(lines_for(name, title=q("Café «naïve» — ok"))) + "\n---\n"

    invalid = "not valid UTF-8"
    c.add("encoding", "utf16-le-bom", "reject", lambda n: text(n).encode("utf-16"), invalid)
    c.add(
        "encoding",
        "utf16-be-bom",
        "reject",
        lambda n: b"\xfe\xff" + text(n).encode("utf-16-be"),
        invalid,
    )
    c.add("encoding", "utf16-le", "reject", lambda n: text(n).encode("utf-16-le"), invalid)
    c.add("encoding", "utf32", "reject", lambda n: text(n).encode("utf-32"), invalid)
    c.add("encoding", "latin1", "reject", lambda n: text(n).encode("latin-1", "replace"), invalid)
    c.add(
        "encoding",
        "cp1252-quotes",
        "reject",
        lambda n: doc(n).replace(b"ordinary", b"\x93ordinary\x94"),
        invalid,
    )
    c.add(
        "encoding",
        "shift-jis",
        "reject",
        lambda n: ("---\n" + "\n".join(lines_for(n, title=q("ニュース"))) + "\n---\n").encode(
            "shift_jis"
        ),
        invalid,
    )
    c.add(
        "encoding",
        "overlong",
        "reject",
        lambda n: doc(n).replace(b"ordinary", b"\xc0\xafx"),
        invalid,
    )
    c.add(
        "encoding",
        "cesu-surrogate",
        "reject",
        lambda n: doc(n).replace(b"ordinary", b"\xed\xa0\x80"),
        invalid,
    )
    c.add("encoding", "utf8-bom", "store", lambda n: b"\xef\xbb\xbf" + text(n).encode())
    c.add(
        "encoding",
        "double-bom",
        "reject",
        lambda n: b"\xef\xbb\xbf\xef\xbb\xbf" + text(n).encode(),
        "not a front-matter document",
    )
    c.add(
        "encoding",
        "bom-in-title",
        "store",
        lambda n: doc(n, title=q("zero\ufeffwidth no-break space")),
    )
    c.add(
        "encoding",
        "line-separators",
        "either",
        lambda n: doc(n, title=q("line\u2028separator and\u2029paragraph")),
    )
    c.add("encoding", "cr-only", "reject", lambda n: text(n).replace("\n", "\r").encode(), "")
    c.add("encoding", "astral", "store", lambda n: doc(n, title=q("Emoji 😀 and 𝕏 math")))


def _keys(c: _Cases) -> None:
    c.add(
        "dupkey",
        "title",
        "reject",
        lambda n: doc(n, after=["title: Second title"]),
        "title: duplicate key",
    )
    c.add(
        "dupkey",
        "weburl",
        "reject",
        lambda n: doc(n, after=['webUrl: "https://evil.example/"']),
        "webUrl: duplicate key",
    )
    c.add(
        "dupkey",
        "topics",
        "reject",
        lambda n: doc(n, after=["topics: [x]"]),
        "topics: duplicate key",
    )
    c.add(
        "dupkey",
        "nested-provider-name",
        "store",
        lambda n: doc(n, provider="{name: First, name: Second}"),
    )
    c.add("dupkey", "case-differs", "store", lambda n: doc(n, after=["Title: Upper-case twin"]))
    c.add(
        "dupkey",
        "merge-override",
        "store",
        lambda n: doc(n, provider="{<<: {name: Merged, domain: m.example}, name: Own}"),
    )


def _tags(c: _Cases) -> None:
    no_constructor = "YAML syntax error: could not determine a constructor"
    for slug, value in [
        ("python-object", "!!python/object:os.system ls"),
        ("python-apply", '!!python/object/apply:os.system ["echo pwned > /tmp/pwned"]'),
        ("python-new", "!!python/object/new:subprocess.Popen [[id]]"),
        ("python-name", "!!python/name:os.system"),
        ("python-module", "!!python/module:os"),
        ("python-tuple", "!!python/tuple [1, 2]"),
        ("python-str", "!!python/str x"),
        ("custom-tag", "!custom x"),
        ("verbatim-tag", "!<tag:evil.example,2024:x> x"),
        ("merge-as-value", "!!merge x"),
    ]:
        c.add("tag", slug, "reject", lambda n, v=value: doc(n, extra=v), no_constructor)
    c.add(
        "tag",
        "tag-directive",
        "reject",
        lambda n: doc(n, before=["%TAG !e! tag:evil.example,2024:"], extra="!e!x y"),
        "YAML syntax error",
    )
    c.add(
        "tag",
        "binary-title",
        "reject",
        lambda n: doc(n, title="!!binary aGVsbG8="),
        "title: expected a string, got bytes",
    )
    c.add(
        "tag",
        "set-topics",
        "reject",
        lambda n: doc(n, topics="!!set {a, b}"),
        "topics: expected a list",
    )
    c.add(
        "tag",
        "omap-provider",
        "reject",
        lambda n: doc(n, provider="!!omap [{name: x}]"),
        "provider:",
    )
    c.add(
        "tag",
        "str-quality",
        "reject",
        lambda n: doc(n, quality="!!str 70"),
        "quality: expected an integer",
    )
    c.add(
        "tag",
        "float-quality",
        "reject",
        lambda n: doc(n, quality=".nan"),
        "quality: expected an integer",
    )
    c.add(
        "tag",
        "null-title",
        "reject",
        lambda n: doc(n, title="!!null x"),
        "title: must not be empty",
    )
    c.add("tag", "binary-unknown", "store", lambda n: doc(n, blob="!!binary aGVsbG8="))
    c.add("tag", "set-unknown", "store", lambda n: doc(n, blob="!!set {a, b}"))
    c.add("tag", "hex-quality", "store", lambda n: doc(n, quality="0x40"))
    c.add("tag", "huge-float", "store", lambda n: doc(n, blob="1e99999"))
    c.add("tag", "unhashable-key", "reject", lambda n: doc(n, after=["[a]: b"]), "unhashable key")
    # Values SafeConstructor cannot build: the errors are not YAMLErrors.
    for slug, key, value in [
        ("bad-month", "extra", "2020-13-45"),
        ("bad-day", "publishedDateTime", "2020-02-30"),
        ("bad-hour", "extra", "2020-01-01T25:00:00Z"),
        ("huge-offset", "extra", "2020-01-01 00:00:00 +99:00"),
        ("int-tag-text", "extra", "!!int abc"),
        ("float-tag-text", "extra", "!!float abc"),
        ("decimal-5000-digits", "quality", "1" * 5_000),
        ("timestamp-tag-text", "extra", "!!timestamp abc"),
        ("bool-tag-text", "extra", "!!bool maybe"),
    ]:
        c.add(
            "tag",
            slug,
            "reject",
            lambda n, k=key, v=value: doc(n, **{k: v}),
            "YAML error: cannot read",
        )
    huge_hex = "0x" + "f" * 5_000
    for slug, key in [
        ("hex-5000-excerpt", "excerpt"),
        ("hex-5000-category", "category"),
        ("hex-5000-published", "published"),
    ]:
        c.add("tag", slug, "reject", lambda n, k=key: doc(n, **{k: huge_hex}), key)
    c.add(
        "tag",
        "hex-5000-topic",
        "reject",
        lambda n: doc(n, topics=f"[{huge_hex}]"),
        "topics",
    )
    for slug, kwargs in [
        ("year-9999-offset", {"publishedDateTime": "9999-12-31T23:59:59-23:59"}),
        ("year-1-offset", {"publishedDateTime": q("0001-01-01T00:00:00+01:00")}),
        (
            "related-year-9999",
            {
                "related": '[{title: t, webUrl: "https://r.example/", '
                'publishedDateTime: "9999-12-31T23:59:59-23:59"}]'
            },
        ),
    ]:
        c.add(
            "tag",
            slug,
            "either",
            lambda n, kw=kwargs: doc(n, **kw),
        )
    for slug, kwargs in [
        ("quality-2-to-80", {"quality": "0xffffffffffffffffffff"}),
        ("heat-below-int64", {"heat": "-9223372036854775809"}),
        (
            "related-quality-2-to-88",
            {
                "related": '[{title: t, webUrl: "https://r.example/", '
                "quality: 0xffffffffffffffffffffff}]"
            },
        ),
        (
            "image-width-5000-digits",
            {"images": f'[{{url: "https://i.example/a.png", width: {huge_hex}}}]'},
        ),
    ]:
        c.add("tag", slug, "either", lambda n, kw=kwargs: doc(n, **kw))


def _control(c: _Cases) -> None:
    for slug, key, text in [
        ("c0-title", "title", "bell\x07 back\x08space \x01\x02\x03 end"),
        ("ansi-title", "title", "\x1b[31mred\x1b[0m \x1b]0;pwned\x07 title"),
        ("ansi-excerpt", "excerpt", "\x1b[2J\x1b[Hcleared screen"),
        ("del-title", "title", "del\x7fete"),
        ("c1-title", "title", "c1 \x85 \x9b31m \x90 chars"),
        ("nul-escape-title", "title", "nul \x00 inside"),
        ("cr-title", "title", "carriage\rreturn"),
        ("vt-ff-excerpt", "excerpt", "vertical\x0btab form\x0cfeed"),
        ("ansi-topic", "topics", "\x1b[31mAI"),
        ("ansi-provider", "provider", "\x1b[31mEvil News"),
    ]:
        value = f"[{q(text)}]" if key == "topics" else q(text)
        c.add("control", slug, "store", lambda n, k=key, v=value: doc(n, **{k: v}))
    c.add(
        "control",
        "raw-esc-in-plain",
        "reject",
        lambda n: doc(n, title="raw \x1b[31m escape"),
        "control characters are not allowed",
    )
    c.add(
        "control",
        "raw-bell-in-quoted",
        "reject",
        lambda n: doc(n, title='"raw \x07 bell"'),
        "control characters are not allowed",
    )
    c.add(
        "control",
        "raw-del",
        "reject",
        lambda n: doc(n, title="raw \x7f del"),
        "control characters are not allowed",
    )
    c.add(
        "control",
        "control-in-weburl",
        "reject",
        lambda n: front([f"webUrl: {q(CORPUS_HOST + n + chr(7))}", "title: x"]),
        "webUrl: ",
    )


def _invisible(c: _Cases) -> None:
    for slug, key, text in [
        ("rlo-title", "title", "Invoice \u202egnp.exe harmless"),
        ("isolates-title", "title", "\u2067RTL isolate\u2069 and \u2066LRI\u2069"),
        ("marks-excerpt", "excerpt", "left\u200emark right\u200fmark arabic\u061cmark"),
        ("rlo-provider", "provider", "\u202eswen live"),
        ("zwj-title", "title", "zero\u200bwidth\u200cnon\u200djoiner\u2060joiner"),
        ("rlo-topic", "topics", "\u202eIA"),
    ]:
        value = f"[{q(text)}]" if key == "topics" else q(text)
        c.add("invisible", slug, "store", lambda n, k=key, v=value: doc(n, **{k: v}))
    invisible = "webUrl: "
    for slug, char in [
        ("zwsp", "\u200b"),
        ("zwnj", "\u200c"),
        ("zwj", "\u200d"),
        ("word-joiner", "\u2060"),
        ("bom", "\ufeff"),
        ("soft-hyphen", "\u00ad"),
        ("rlo", "\u202e"),
        ("lrm", "\u200e"),
    ]:
        c.add(
            "invisible",
            f"weburl-host-{slug}",
            "reject",
            lambda n, ch=char: front(
                [f"webUrl: {q('https://corpus' + ch + '.example/' + n)}", "title: x"]
            ),
            invisible,
        )
        c.add(
            "invisible",
            f"weburl-path-{slug}",
            "reject",
            lambda n, ch=char: front([f"webUrl: {q(CORPUS_HOST + n + ch)}", "title: x"]),
            invisible,
        )
    c.add(
        "invisible",
        "related-url-zwsp",
        "store",
        lambda n: doc(
            n,
            related='[{title: Hidden, webUrl: "https://rel\u200b.example/x"}, '
            '{title: Kept, webUrl: "https://kept.example/x"}]',
        ),
    )
    c.add(
        "invisible",
        "image-url-rlo",
        "store",
        lambda n: doc(n, images='[{url: "https://img.example/\u202egpj.exe"}]'),
    )
    c.add(
        "invisible",
        "idn-homoglyph",
        "either",
        lambda n: front([f"webUrl: {q('https://раураl.example/' + n)}", "title: Homoglyph"]),
    )
    c.add(
        "invisible",
        "fullwidth-scheme",
        "reject",
        lambda n: front([f"webUrl: {q('ｈｔｔｐｓ://corpus.example/' + n)}", "title: x"]),
        "webUrl: ",
    )


def _schemes(c: _Cases) -> None:
    bad = [
        ("javascript", "javascript:alert(document.cookie)//{n}"),
        ("javascript-upper", "JAVASCRIPT:alert(1)//{n}"),
        ("javascript-space", " javascript:alert(1)//{n}"),
        ("javascript-tab", "java\tscript:alert(1)//{n}"),
        ("javascript-newline", "java\nscript:alert(1)//{n}"),
        ("data", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==#{n}"),
        ("file", "file:///etc/passwd#{n}"),
        ("vbscript", "vbscript:msgbox(1)#{n}"),
        ("ftp", "ftp://corpus.example/{n}"),
        ("mailto", "mailto:x@corpus.example?{n}"),
        ("protocol-relative", "//corpus.example/{n}"),
        ("no-host", "https:corpus.example/{n}"),
        ("empty-host", "https:///{n}"),
        ("userinfo", "https://user:pass@corpus.example/{n}"),
        ("at-host", "https://corpus.example@evil.example/{n}"),
        ("backslash", "https://evil.example\\@corpus.example/{n}"),
        ("bad-port", "https://corpus.example:99999/{n}"),
        ("bad-ipv6", "https://[::1/{n}"),
        ("space", "https://corpus.example/{n} x"),
        ("discord-scheme", "discord://-/channels/1/2#{n}"),
    ]
    for slug, template in bad:
        c.add(
            "scheme",
            f"weburl-{slug}",
            "reject",
            lambda n, t=template: front([f"webUrl: {q(t.format(n=n))}", "title: Bad link"]),
            "webUrl: ",
        )
    c.add(
        "scheme",
        "weburl-markdown-breakout",
        "store",
        lambda n: front(
            [f"webUrl: {q(CORPUS_HOST + n + '/)[x](javascript:alert(1))<b>')}", "title: Breakout"]
        ),
    )
    c.add(
        "scheme",
        "weburl-angle-breakout",
        "store",
        lambda n: front([f"webUrl: {q(CORPUS_HOST + n + '>@everyone<')}", "title: Angles"]),
    )
    for slug, url in [
        ("javascript", "javascript:alert(1)"),
        ("data", "data:text/html,<script>alert(1)</script>"),
        ("file", "file:///etc/passwd"),
        ("userinfo", "https://good.example@evil.example/"),
    ]:
        c.add(
            "scheme",
            f"related-{slug}",
            "store",
            lambda n, u=url: doc(
                n,
                related=f"[{{title: Bad related, webUrl: {q(u)}}}, "
                '{title: Good related, webUrl: "https://good.example/r"}]',
            ),
        )
        c.add(
            "scheme",
            f"image-{slug}",
            "store",
            lambda n, u=url: doc(
                n, images=f'[{{url: {q(u)}}}, {{url: "https://img.example/ok.png"}}]'
            ),
        )
    c.add("scheme", "amp-javascript", "store", lambda n: doc(n, ampWebUrl=q("javascript:alert(1)")))
    c.add(
        "scheme",
        "provider-domain-javascript",
        "store",
        lambda n: doc(n, provider="{name: Evil, domain: 'javascript:alert(1)'}"),
    )


# Mentions and Markdown that must never act in a digest (each lands in every text field).
INJECTIONS = [
    "@everyone",
    "@here",
    "@EVERYONE and @HeRe",
    "<@123456789012345678>",
    "<@!123456789012345678>",
    "<@&987654321098765432>",
    "<#555555555555555555>",
    "</news approve:111111111111111111>",
    "<t:0:R>",
    "<:pwn:123456789012345678>",
    "<a:pwn:123456789012345678>",
    "[click me](https://evil.example/phish)",
    "[x](<javascript:alert(1)>)",
    '[title](https://evil.example "hover")',
    "[](https://evil.example/empty-label)",
    "[split]\n(https://evil.example/split)",
    "**bold** __underline__ *italic* ~~strike~~ ||spoiler||",
    "`code` and ```fence```",
    "# heading",
    "> quote",
    ">>> block quote",
    "-# subtext",
    "- list item",
    "1. numbered",
    "https://evil.example/autolink",
    "<https://evil.example/angle-autolink>",
    "\\@everyone",
    "\\\\[x](https://evil.example/double-backslash)",
    "]( https://evil.example/dangling )",
    "@\u200beveryone",
    "＠everyone fullwidth",
    ":skull: :everyone:",
    "discord.gg/invite https://discord.gg/invite",
    "\\",
    "<@123>@everyone[x](https://evil.example)`||",
]

# Where article text shows up: each field of the base document, as raw YAML.
_FIELDS = {
    "title": lambda t: {"title": q(t)},
    "excerpt": lambda t: {"excerpt": q(t)},
    "provider-name": lambda t: {"provider": f"{{name: {q(t)}, domain: news.example.com}}"},
    "provider-domain": lambda t: {"provider": f"{{domain: {q(t)}}}"},
    "provider-string": lambda t: {"provider": q(t)},
    "topics": lambda t: {"topics": f"[{q(t)}, AI]"},
    "category-type": lambda t: {"category": q(t[:200]), "type": q(t[:200])},
    "related-title": lambda t: {"related": f'[{{title: {q(t)}, webUrl: "https://r.example/1"}}]'},
    "related-excerpt": lambda t: {
        "related": f'[{{title: Related, excerpt: {q(t)}, webUrl: "https://r.example/2"}}]'
    },
    "related-provider": lambda t: {
        "related": f'[{{title: Related, webUrl: "https://r.example/3",'
        f" provider: {{name: {q(t)}}}}}]"
    },
    "image-title": lambda t: {"images": f'[{{url: "https://img.example/i.png", title: {q(t)}}}]'},
}


def _injections(c: _Cases) -> None:
    # One file per payload, the payload in every text field at once...
    for index, payload in enumerate(INJECTIONS):

        def everywhere(name: str, p: str = payload, index: int = index) -> bytes:
            values: dict[str, str] = {
                "title": q(p),
                "excerpt": q(f"Excerpt {p} end"),
                "provider": f"{{name: {q(p)}, domain: {q(p)}}}",
                "topics": f"[{q(p)}, AI]",
                "category": q(p),
                "type": q(p),
                "images": f'[{{url: "https://img.example/i.png", title: {q(p)}}}]',
                "related": (
                    f"[{{title: {q(p)}, excerpt: {q(p)}, webUrl: "
                    f'"https://r.example/{index}", provider: {{name: {q(p)}, domain: {q(p)}}}}}]'
                ),
            }
            return doc(name, body=f"\n{p}\n", **values)

        c.add("inject", f"everywhere-{index:02d}", "store", everywhere)
    # ...and one file per field with every payload in it.
    combined = " ".join(INJECTIONS)
    for field, values in _FIELDS.items():
        c.add("inject", f"field-{field}", "store", lambda n, v=values: doc(n, **v(combined)))


def cases() -> list[Case]:
    """Every case, in a stable order."""
    c = _Cases()
    for build in (
        _truncated,
        _syntax,
        _bombs,
        _nesting,
        _huge,
        _binary,
        _encodings,
        _keys,
        _tags,
        _control,
        _invisible,
        _schemes,
        _injections,
    ):
        build(c)
    return c.items


def write(folder: Path, selected: Sequence[Case]) -> dict[Path, Case]:
    """Write ``selected`` cases into ``folder``; returns each file's path and case."""
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[Path, Case] = {}
    for case in selected:
        path = folder / case.file_name
        path.write_bytes(case.data)
        written[path] = case
    return written
