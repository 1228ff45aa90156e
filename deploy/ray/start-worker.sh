#!/usr/bin/env bash
# Join a GPU machine to the Ray cluster k12ai drives (run on each worker node).
#
#   HEAD_IP=10.0.0.10 NODE_IP=10.0.0.21 ./start-worker.sh
#
# The node needs: the same k12ai install as the server's (`pip install 'k12ai[worker,ray]'`, the
# Python that --ray-python names), the data roots mounted at the same paths as on the server (shared
# storage: the cache directories and the users' data), and a route to the k12ai server's ingest port
# (--ingest-address, 8120 by default). Ray counts the node's GPUs itself; k12ai never assigns them.
set -euo pipefail
: "${HEAD_IP:?set HEAD_IP to the head's address}"
: "${NODE_IP:?set NODE_IP to this machine's address}"
exec ray start --block --address="$HEAD_IP:6379" --node-ip-address="$NODE_IP"
