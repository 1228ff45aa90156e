#!/usr/bin/env bash
# Start the head of a Ray cluster that k12ai drives (run on the head machine).
#
#   HEAD_IP=10.0.0.10 ./start-head.sh
#
# The head runs no k12ai job itself (--num-cpus=0 --num-gpus=0: every k12ai job asks Ray for a CPU
# and its GPUs, so Ray places it on a worker node). k12ai talks to the dashboard's Jobs API on 8265.
set -euo pipefail
: "${HEAD_IP:?set HEAD_IP to the address the worker nodes and the k12ai server reach this machine by}"
# A job that waits for a free GPU stays PENDING (k12ai shows it `queued`) for as long as it must;
# Ray's default would fail it after 15 minutes.
export RAY_JOB_START_TIMEOUT_SECONDS="${RAY_JOB_START_TIMEOUT_SECONDS:-604800}"
# The grace period of a stop: SIGTERM, then SIGKILL after this many seconds (k12ai's --stop-grace-s).
export RAY_JOB_STOP_WAIT_TIME_S="${RAY_JOB_STOP_WAIT_TIME_S:-10}"
exec ray start --head --block \
  --node-ip-address="$HEAD_IP" --port=6379 \
  --dashboard-host=0.0.0.0 --dashboard-port=8265 \
  --num-cpus=0 --num-gpus=0
