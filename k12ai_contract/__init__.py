"""The contract between the k12ai server and its job workers.

Every fact both sides must agree on has its home here: job kinds and states, event
types and the event line a worker writes, the job spec, the run directory's file
names, the worker's command line and the codes a worker may report. This package
imports only the standard library, so the worker (inside a job's container) and the
server both depend on it and on nothing of each other.
"""
