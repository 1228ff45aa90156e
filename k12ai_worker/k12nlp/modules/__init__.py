"""The torch building blocks of k12nlp models; every one respects the padding mask."""
