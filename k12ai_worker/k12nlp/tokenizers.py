"""Splitting raw text into tokens, for readers of raw text and for predictors.

AllenNLP's default was spaCy, which k12ai does not ship. The ``spacy`` splitter
here approximates the Penn Treebank conventions that SST itself uses
(``n't`` and ``'s`` split off, ``-LRB-``/``-RRB-`` for brackets, ``` `` ```/``''``
for quotes), so text typed by a user meets the vocabulary a model learnt from
SST; hyphenated words stay whole, as in SST.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

from k12ai_worker.training.registry import Registry

_CLITIC = re.compile(r"(?i)(\w)(n't|'(?:s|re|ve|ll|d|m))\b")
_TOKEN = re.compile(r"(?i)n't|'(?:s|re|ve|ll|d|m)\b|\w+(?:[-.'/]\w+)*|\.\.\.|--|``|''|\S")
_BRACKETS = {"(": "-LRB-", ")": "-RRB-", "[": "-LSB-", "]": "-RSB-", "{": "-LCB-", "}": "-RCB-"}


def ptb_tokens(text: str) -> list[str]:
    tokens: list[str] = []
    open_quote = True
    for token in _TOKEN.findall(_CLITIC.sub(r"\1 \2", text)):
        if token == '"':
            token = "``" if open_quote else "''"
            open_quote = not open_quote
        tokens.append(_BRACKETS.get(token, token))
    return tokens


@dataclass(frozen=True, kw_only=True)
class WordSplitterSpec:
    registry: ClassVar[Registry[WordSplitterSpec]]

    def split(self, text: str) -> list[str]:
        raise NotImplementedError


WordSplitterSpec.registry = Registry("word splitter", default="spacy")


@WordSplitterSpec.registry.register("spacy")
@dataclass(frozen=True, kw_only=True)
class PtbSplitterSpec(WordSplitterSpec):
    def split(self, text: str) -> list[str]:
        return ptb_tokens(text)


WordSplitterSpec.registry.register("simple")(PtbSplitterSpec)


@WordSplitterSpec.registry.register("just_spaces")
@dataclass(frozen=True, kw_only=True)
class SpaceSplitterSpec(WordSplitterSpec):
    def split(self, text: str) -> list[str]:
        return text.split()


@dataclass(frozen=True, kw_only=True)
class TokenizerSpec:
    registry: ClassVar[Registry[TokenizerSpec]]

    def tokenize(self, text: str) -> list[str]:
        raise NotImplementedError


TokenizerSpec.registry = Registry("tokenizer", default="word")


@TokenizerSpec.registry.register("word")
@dataclass(frozen=True, kw_only=True)
class WordTokenizerSpec(TokenizerSpec):
    word_splitter: WordSplitterSpec = field(default_factory=PtbSplitterSpec)
    start_tokens: list[str] = field(default_factory=list)
    end_tokens: list[str] = field(default_factory=list)

    def tokenize(self, text: str) -> list[str]:
        return [*self.start_tokens, *self.word_splitter.split(text), *self.end_tokens]
