"""The examples in the package's docstrings run and print what they say, and every Python example
of the README and of the guide's pages (``docs/*.md``) runs as written.

A page's example that cannot run here (one that needs a CUDA device, say) is fenced as
```` ```python no-test ````, and the page says why. Such blocks are still compiled, reported as
skipped, and counted against ``NO_TEST`` below, so that none is skipped silently.
"""
import doctest
import os
import re
import textwrap

import pytest

import sodeep
import sodeep.numpy
import sodeep.torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "..")

# the pages' blocks marked `no-test`, by page: a new one must be added here on purpose
NO_TEST = {"docs/gpu.md": 1}

FENCE = re.compile(r"^( *)(`{3,}|~{3,})(.*)$")


def pages():
    """README.md, every page of docs/ and the package's own README, as paths from the root."""
    docs = sorted(f for f in os.listdir(os.path.join(ROOT, "docs")) if f.endswith(".md"))
    return ["README.md"] + ["docs/" + f for f in docs] + ["crates/sodeep-py/README.md"]


def python_blocks(page):
    """Every Python block of `page` (a path from the root): see `python_blocks_in`."""
    with open(os.path.join(ROOT, page), encoding="utf-8") as f:
        return python_blocks_in(f.read())


def python_blocks_in(text):
    """Every fenced block of a Markdown text whose language is python: (line number of its
    opening fence, the info string's other words, source). Fences follow CommonMark: the closing
    fence uses the opening's character, at least as many times, and nothing but spaces after it.
    A fence is read at any indentation, deep list items included (the pages have no indented
    code blocks), so that no block is missed."""
    lines = text.split("\n")
    blocks = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or (m.group(2)[0] == "`" and "`" in m.group(3)):
            i += 1
            continue
        indent, fence, words = len(m.group(1)), m.group(2), m.group(3).split()
        body, j = [], i + 1
        while j < len(lines):
            close = FENCE.match(lines[j])
            if (close and close.group(2)[0] == fence[0] and len(close.group(2)) >= len(fence)
                    and not close.group(3).strip()):
                break
            line = lines[j]
            body.append(line[min(indent, len(line) - len(line.lstrip(" "))):])
            j += 1
        if words and words[0] == "python":
            blocks.append((i + 1, words[1:], textwrap.dedent("\n".join(body))))
        i = j + 1
    return blocks


BLOCKS = [(page, line, flags, src) for page in pages() for line, flags, src in python_blocks(page)]


@pytest.mark.parametrize("module", [sodeep, sodeep.numpy, sodeep.torch],
                         ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{module.__name__} has no example"
    assert result.failed == 0


@pytest.mark.parametrize("page,line,flags,src", BLOCKS,
                         ids=[f"{page}:{line}" for page, line, _, _ in BLOCKS])
def test_page_examples_run(page, line, flags, src):
    code = compile(src, f"{page}:{line}", "exec")
    if "no-test" in flags:
        pytest.skip(f"{page}:{line} is marked no-test (the page says why)")
    exec(code, {"__name__": "__docs__"})


def test_the_pages_have_examples_and_every_no_test_block_is_counted():
    runnable = [(page, line) for page, line, flags, _ in BLOCKS if "no-test" not in flags]
    assert any(page == "README.md" for page, _ in runnable), "no runnable example in the README"
    assert any(page.startswith("docs/") for page, _ in runnable), "no runnable example in docs/"
    counted = {}
    for page, _, flags, _ in BLOCKS:
        if "no-test" in flags:
            counted[page] = counted.get(page, 0) + 1
    assert counted == NO_TEST


def test_the_fence_reader_finds_blocks_as_markdown_does():
    text = ("text ```python inline\n\n```python\na = 1\n```\n\n- item\n\n  ```python no-test\n"
            "  b = 2\n  ```\n\n````python\n```\nc = 3\n````\n\n```rust\nlet d = 4;\n```\n")
    found = python_blocks_in(text)
    assert [(line, flags, src.strip()) for line, flags, src in found] == [
        (3, [], "a = 1"), (9, ["no-test"], "b = 2"), (13, [], "```\nc = 3")]
