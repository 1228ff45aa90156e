"""``sst_tokens``: the Stanford Sentiment Treebank's PTB trees, as AllenNLP read them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from k12ai_worker import inputs
from k12ai_worker.k12nlp.readers.base import DataFormatError, DatasetReaderSpec, Instance
from k12ai_worker.k12nlp.readers.ptb_tree import TreeSyntaxError, parse_tree


@DatasetReaderSpec.registry.register("sst_tokens")
@dataclass(frozen=True, kw_only=True)
class SstTokensReader(DatasetReaderSpec):
    # Every node of a tree (single-word leaves included) becomes an instance,
    # not just the root sentence: 318,582 instances from SST's 8,544 training trees.
    use_subtrees: bool = False
    # 5-class keeps SST's labels 0-4; 3-class maps them to negative (0), neutral (1),
    # positive (2); 2-class to negative (0) and positive (1), dropping neutral nodes.
    granularity: Literal["5-class", "3-class", "2-class"] = "5-class"

    def read(self, path: Path, key: str) -> Iterator[Instance]:
        with inputs.open_text(key, path) as lines:
            for number, line in enumerate(lines, start=1):
                line = line.strip()
                if not line:
                    continue
                try:
                    tree = parse_tree(line)
                except TreeSyntaxError as exc:
                    raise DataFormatError(f"{path}:{number}: not a PTB tree: {exc}") from None
                nodes = tree.nodes if self.use_subtrees else tree.nodes[:1]
                for node in nodes:
                    label = self.map_label(node.label, path, number)
                    if label is not None:
                        yield Instance(tree.leaves[node.start : node.end], label)

    def map_label(self, sentiment: str, path: Path, number: int) -> str | None:
        """The label at this granularity; None for a neutral node in 2-class."""
        if self.granularity == "5-class":
            return sentiment
        try:
            value = int(sentiment)
        except ValueError:
            raise DataFormatError(f"{path}:{number}: a node's label is not a number 0-4") from None
        if value < 2:
            return "0"
        if value == 2:
            return "1" if self.granularity == "3-class" else None
        return "2" if self.granularity == "3-class" else "1"
