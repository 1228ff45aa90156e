"""What a k12cv config may say, read without torch.

Each class reads one part of a config, checks what can be checked before any
image is read, and imports torch (or Pillow) only when a job builds from it.
"""
