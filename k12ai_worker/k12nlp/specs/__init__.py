"""What a model config may say, read without torch.

Each class here reads one part of ``model`` (checking what can be checked
before any data is read) and ``build``s the matching torch module from
``k12nlp.modules``/``k12nlp.models``, importing torch only then.
"""
