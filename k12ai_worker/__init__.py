"""Code that runs inside a job (a local process or a container).

Nothing here imports ``k12ai_server``: the worker is what crosses the container
boundary. The server imports only the light ``validate``/``input_paths`` hooks
of each framework (see ``frameworks.py``) to answer bad configs synchronously.
"""
