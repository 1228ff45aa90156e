# Sourced by scripts/test: a reachable Docker engine and the k12ml worker image, so that
# tests/docker runs for real. As root on a machine without Docker (CI), installs docker.io and
# debootstrap from Debian and starts dockerd in the background; otherwise uses the engine that
# is there. Without root and without an engine it only says so: tests/docker then skip, naming why.
# K12AI_SKIP_DOCKER=1 skips all of it (an engine that is already up is used as it is).

ensure_docker_engine() {
  if [ "${K12AI_SKIP_DOCKER:-0}" = 1 ]; then
    echo "== docker: K12AI_SKIP_DOCKER=1, not starting an engine or building images" >&2
    return 0
  fi
  if ! docker info >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
      echo "== docker: no engine reachable and not root; tests/docker will skip" >&2
      return 0
    fi
    if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
    fi
    # No bridge and no iptables: job containers run with no network, and this host may not
    # let a container engine rewrite its firewall.
    nohup dockerd --iptables=false --bridge=none >"${TMPDIR:-/tmp}/k12ai-dockerd.log" 2>&1 &
    local waited=0
    until docker info >/dev/null 2>&1; do
      sleep 1
      waited=$((waited + 1))
      if [ "$waited" -ge 60 ]; then
        echo "== docker: dockerd did not answer within 60 s:" >&2
        tail -20 "${TMPDIR:-/tmp}/k12ai-dockerd.log" >&2
        return 1
      fi
    done
  fi
  # The offline build (debootstrap base, wheels from the host); a no-op when inputs are unchanged.
  scripts/build_images --frameworks ml
}
