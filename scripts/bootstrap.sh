# Sourced by scripts/serve and scripts/test: make .venv with k12ai installed.
# Idempotent: a second run only re-checks what is installed.

ensure_venv() {
  local extras="$1"
  local python="${K12AI_PYTHON:-python3}"
  if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
  fi
  # shellcheck disable=SC1091
  source .venv/bin/activate
  local stamp=".venv/.installed-${extras}"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
    python -m pip install --quiet --upgrade pip
    # constraints.txt: the versions the suite passed with (scripts/lock writes it).
    python -m pip install --quiet -c constraints.txt -e ".[${extras}]"
    touch "$stamp"
  fi
}
