"""The text classifiers k12nlp trains (``bcn``, ``basic_classifier``)."""
