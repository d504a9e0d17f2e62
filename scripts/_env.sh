# Shared by scripts/demo and scripts/test: build .venv from nothing (only python3.11 needed).
# Sourced, not executed.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
CONSTRAINTS="$REPO_ROOT/constraints/airflow-3.3.2-py3.11.txt"
UV="$REPO_ROOT/.venv/bin/uv"

pick_python() {
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then
      echo "$candidate"
      return 0
    fi
  done
  echo "python3.11 not found on PATH" >&2
  return 1
}

ensure_uv() {
  if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating $VENV"
    "$(pick_python)" -m venv "$VENV"
  fi
  if [ ! -x "$UV" ]; then
    echo "==> installing uv into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check uv
  fi
}

ensure_env() {
  ensure_uv
  local stamp="$VENV/.installed-$(cat "$REPO_ROOT/pyproject.toml" "$CONSTRAINTS" | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "==> installing airflow-provider-devin with Airflow 3.3.2 (pinned by $CONSTRAINTS)"
    "$UV" pip install --quiet --python "$VENV/bin/python" -c "$CONSTRAINTS" \
      -e "$REPO_ROOT[dev,emulator]" || return 1
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
}

# The Airflow 2.11 compatibility lane: a second venv with the provider (editable) on Airflow 2.11.2.
VENV_AIRFLOW2="$REPO_ROOT/.venv-airflow2"
CONSTRAINTS_AIRFLOW2="$REPO_ROOT/constraints/airflow-2.11.2-py3.11.txt"

ensure_airflow2_env() {
  ensure_uv
  if [ ! -x "$VENV_AIRFLOW2/bin/python" ]; then
    echo "==> creating $VENV_AIRFLOW2"
    "$(pick_python)" -m venv "$VENV_AIRFLOW2"
  fi
  local stamp="$VENV_AIRFLOW2/.installed-$(cat "$REPO_ROOT/pyproject.toml" "$CONSTRAINTS_AIRFLOW2" | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "==> installing airflow-provider-devin with Airflow 2.11.2 (pinned by $CONSTRAINTS_AIRFLOW2)"
    "$UV" pip install --quiet --python "$VENV_AIRFLOW2/bin/python" -c "$CONSTRAINTS_AIRFLOW2" \
      -e "$REPO_ROOT[emulator]" pytest pytest-asyncio || return 1
    rm -f "$VENV_AIRFLOW2"/.installed-*
    touch "$stamp"
  fi
}

# The Airflow 3.1 and 3.2 compatibility lanes: one venv each under .venv/lanes/ (inside the ignored
# .venv, so git, ruff and a fresh clone never see them), built like the 2.11 lane from the lane's
# constraints/requirements-<lane>.in and pin file. 3.1 installs the provider without its [emulator]
# extra, which Airflow 3.1's FastAPI pin excludes (see that .in file).
# ensure_lane_env <lane> sets LANE_PYTHON to the lane's interpreter; <lane> is airflow31 or airflow32.
declare -A LANE_AIRFLOW_VERSION=([airflow31]=3.1.8 [airflow32]=3.2.2)
declare -A LANE_PROVIDER_EXTRA=([airflow31]="" [airflow32]="[emulator]")

ensure_lane_env() {
  local lane="$1"
  local airflow_version="${LANE_AIRFLOW_VERSION[$lane]:?unknown lane $lane (known: ${!LANE_AIRFLOW_VERSION[*]})}"
  local venv="$VENV/lanes/$lane"
  local requirements="$REPO_ROOT/constraints/requirements-$lane.in"
  local constraints="$REPO_ROOT/constraints/airflow-$airflow_version-py3.11.txt"
  ensure_uv
  if [ ! -x "$venv/bin/python" ]; then
    echo "==> creating $venv"
    "$(pick_python)" -m venv "$venv"
  fi
  local stamp="$venv/.installed-$(cat "$REPO_ROOT/pyproject.toml" "$requirements" "$constraints" | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "==> installing airflow-provider-devin with Airflow $airflow_version (pinned by $constraints)"
    "$UV" pip install --quiet --python "$venv/bin/python" -c "$constraints" -r "$requirements" \
      -e "$REPO_ROOT${LANE_PROVIDER_EXTRA[$lane]}" || return 1
    rm -f "$venv"/.installed-*
    touch "$stamp"
  fi
  LANE_PYTHON="$venv/bin/python"
}
