"""Dataset readers, chosen by ``dataset_reader.type``."""

from k12ai_worker.k12nlp.readers import sst, text_classification_json
from k12ai_worker.k12nlp.readers.base import DataFormatError, DatasetReaderSpec, Instance

__all__ = ["DataFormatError", "DatasetReaderSpec", "Instance", "sst", "text_classification_json"]
