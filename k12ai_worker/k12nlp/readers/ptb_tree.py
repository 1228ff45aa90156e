"""Penn Treebank bracketed trees, as SST writes them: ``(3 (2 It) (4 (2 's) ...))``.

Only what a sentiment reader needs: the leaves, and each node's label with the
span of leaves under it, in pre-order (a node before its children), which is
the order nltk's ``Tree.subtrees()`` yields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\(|\)|[^\s()]+")


@dataclass(frozen=True, slots=True)
class Node:
    label: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Tree:
    leaves: list[str]
    # nodes[0] is the root.
    nodes: list[Node]


class TreeSyntaxError(ValueError):
    pass


def parse_tree(text: str) -> Tree:
    leaves: list[str] = []
    labels: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    open_nodes: list[int] = []
    expect_label = False
    for token in _TOKEN.findall(text):
        if token == "(":
            if labels and not open_nodes:
                raise TreeSyntaxError("text after the end of the tree")
            if expect_label:
                # "((" opens a node with no label, as nltk allows.
                open_nodes.append(_open(labels, starts, ends, "", len(leaves)))
            expect_label = True
        elif token == ")":
            if expect_label:
                raise TreeSyntaxError("empty brackets '()'")
            if not open_nodes:
                raise TreeSyntaxError("')' closes no node")
            ends[open_nodes.pop()] = len(leaves)
        elif expect_label:
            open_nodes.append(_open(labels, starts, ends, token, len(leaves)))
            expect_label = False
        else:
            if not open_nodes:
                # The token is not quoted: messages never show what a data file holds.
                raise TreeSyntaxError("a token lies outside any node")
            leaves.append(token)
    if expect_label or open_nodes:
        raise TreeSyntaxError("unbalanced brackets: a node is not closed")
    if not labels:
        raise TreeSyntaxError("no tree")
    return Tree(leaves, [Node(label, s, e) for label, s, e in zip(labels, starts, ends, strict=True)])


def _open(labels: list[str], starts: list[int], ends: list[int], label: str, start: int) -> int:
    labels.append(label)
    starts.append(start)
    ends.append(-1)
    return len(labels) - 1
