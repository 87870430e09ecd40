/**
 * The self-hosted GitHub Actions runner's commands. The remote scripts run on the GPU host
 * over SSH (`command.remote.Command`): their parameters arrive on stdin as NAME=value lines,
 * because `environment` over SSH needs the server's AcceptEnv. The registration token
 * arrives the same way and reaches `config.sh` as ACTIONS_RUNNER_INPUT_TOKEN, the runner's
 * own environment form of `--token`: never argv, never the command text.
 */

/** The runner release installed; it updates itself afterwards (no --disableupdate). */
export const RUNNER_VERSION = "2.337.0";
/**
 * sha256 of actions-runner-linux-x64-2.337.0.tar.gz, as GitHub's release page and its
 * "Add new runner" instructions publish it. GitHub is not reachable from where this was
 * written; the value was cross-checked against seven independent public copies of those
 * instructions, which all agree. INSTALL_SCRIPT refuses a tarball that does not match.
 */
export const RUNNER_SHA256 = "70920811a4f8ad4328818682bca5c6469c1c942fab52448868071d0063816613";

/** The names a remote script accepts on stdin; anything else is ignored. */
export const RUNNER_PARAMS = [
    "RUNNER_DIR", "RUNNER_VERSION", "RUNNER_SHA256", "RUNNER_URL", "RUNNER_NAME", "RUNNER_LABELS", "RUNNER_EPHEMERAL",
    "RUNNER_TOKEN", "MIN_DRIVER", "CUDA_VERSION", "MIN_FREE_GB", "CHECK_DOCKER_GPU",
] as const;
export type RunnerParam = typeof RUNNER_PARAMS[number];

/** Encodes parameters for a remote script's stdin. Values are single lines (checked). */
export function runnerStdin(params: Partial<Record<RunnerParam, string>>): string {
    return Object.entries(params).map(([k, v]) => {
        if (!(RUNNER_PARAMS as readonly string[]).includes(k)) throw new Error(`unknown runner parameter ${k}`);
        if (/[\n\r\0]/.test(v!)) throw new Error(`runner parameter ${k} must be one line`);
        return `${k}=${v}\n`;
    }).join("");
}

/** Reads NAME=value lines from stdin into shell variables, for the listed names only. */
const READ_PARAMS = `while IFS= read -r line || [ -n "$line" ]; do
  name=\${line%%=*}
  value=\${line#*=}
  case "$name" in
    ${RUNNER_PARAMS.join("|")}) eval "$name=\\$value" ;;
  esac
done
# A leading ~/ means the SSH user's home.
case "\${RUNNER_DIR:-}" in "~/"*) RUNNER_DIR="$HOME/\${RUNNER_DIR#"~/"}" ;; esac`;

/**
 * Checks the GPU host before anything is installed: nvidia-smi present, the driver at
 * least MIN_DRIVER (the minimum of CUDA_VERSION), Nix installed, MIN_FREE_GB free for
 * RUNNER_DIR and, with CHECK_DOCKER_GPU=true, Docker with the NVIDIA runtime for the SSH user.
 * Prints `driver=`, `gpu=`, `nix=` and `free_gb=` lines (and `docker=` when it checks Docker).
 */
export const PREFLIGHT_SCRIPT = `set -eu
${READ_PARAMS}
fail() { echo "GPU runner preflight on $(hostname): $*" >&2; exit 1; }
command -v nvidia-smi >/dev/null 2>&1 || fail "nvidia-smi not found: install the NVIDIA driver >= $MIN_DRIVER (needed by CUDA $CUDA_VERSION)"
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>&1 | head -n 1 | tr -d ' ') || true
case "$driver" in [0-9]*.*) ;; *) fail "nvidia-smi did not report a driver version: $driver" ;; esac
if ! printf '%s\\n%s\\n' "$MIN_DRIVER" "$driver" | sort -V -C; then
  fail "NVIDIA driver $driver is too old for CUDA $CUDA_VERSION, which needs >= $MIN_DRIVER"
fi
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1)
nixbin=$(command -v nix 2>/dev/null || true)
[ -n "$nixbin" ] || [ ! -x /nix/var/nix/profiles/default/bin/nix ] || nixbin=/nix/var/nix/profiles/default/bin/nix
[ -n "$nixbin" ] || fail "Nix is not installed (no nix on PATH or in /nix/var/nix/profiles/default/bin)"
nixver=$("$nixbin" --version | head -n 1)
parent=$RUNNER_DIR
while [ ! -d "$parent" ]; do parent=$(dirname "$parent"); done
free_kb=$(df -Pk "$parent" | awk 'NR==2 {print $4}')
free_gb=$((free_kb / 1024 / 1024))
[ "$free_gb" -ge "$MIN_FREE_GB" ] || fail "only $free_gb GB free under $parent; the runner needs $MIN_FREE_GB GB"
if [ "\${CHECK_DOCKER_GPU:-}" = true ]; then
  command -v docker >/dev/null 2>&1 || fail "docker not found: the layers' smoke checks run in Docker containers here (install Docker and the NVIDIA Container Toolkit)"
  dockerver=$(docker version --format '{{.Server.Version}}' 2>&1) || fail "docker cannot reach its daemon as $(id -un): $dockerver (add the user to the docker group)"
  runtimes=$(docker info --format '{{json .Runtimes}}' 2>/dev/null || true)
  case "$runtimes" in
    *nvidia*) ;;
    *) command -v nvidia-ctk >/dev/null 2>&1 || fail "Docker has no nvidia runtime and nvidia-ctk is missing: install the NVIDIA Container Toolkit (nvidia-ctk runtime configure --runtime=docker), or containers get no GPU" ;;
  esac
  echo "docker=$dockerver"
fi
echo "driver=$driver"
echo "gpu=$gpu"
echo "nix=$nixver"
echo "free_gb=$free_gb"`;

/**
 * Installs RUNNER_VERSION into RUNNER_DIR after checking the tarball against RUNNER_SHA256.
 * Idempotent: a directory that already holds this version is left alone.
 */
export const INSTALL_SCRIPT = `set -eu
${READ_PARAMS}
mkdir -p "$RUNNER_DIR"
cd "$RUNNER_DIR"
if [ -f .layerstack-version ] && [ "$(cat .layerstack-version)" = "$RUNNER_VERSION" ] && [ -x ./config.sh ]; then
  echo "runner $RUNNER_VERSION already installed in $RUNNER_DIR"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl --fail --silent --show-error --location --retry 3 -o "$tmp/runner.tar.gz" \\
  "https://github.com/actions/runner/releases/download/v$RUNNER_VERSION/actions-runner-linux-x64-$RUNNER_VERSION.tar.gz"
if ! printf '%s  %s\\n' "$RUNNER_SHA256" "$tmp/runner.tar.gz" | sha256sum -c - >/dev/null 2>&1; then
  echo "actions-runner $RUNNER_VERSION: sha256 mismatch (expected $RUNNER_SHA256); not installed" >&2
  exit 1
fi
tar -xzf "$tmp/runner.tar.gz" -C "$RUNNER_DIR"
printf '%s\\n' "$RUNNER_VERSION" > .layerstack-version
echo "runner $RUNNER_VERSION installed in $RUNNER_DIR"`;

/**
 * Registers the runner and runs it as a service (create and update). A runner already
 * registered with the same URL, name, labels, mode and version is left registered and the
 * fresh token is not used: a new token on every \`up\` never re-registers. Anything else
 * (first run, changed labels, an ephemeral runner whose job consumed its registration)
 * registers again with --replace. The service needs passwordless sudo for svc.sh.
 */
export const REGISTER_SCRIPT = `set -eu
${READ_PARAMS}
cd "$RUNNER_DIR"
want=$(printf '%s|' "$RUNNER_URL" "$RUNNER_NAME" "$RUNNER_LABELS" "$RUNNER_EPHEMERAL" "$RUNNER_VERSION")
if [ -f .runner ] && [ -f .layerstack-registration ] && [ "$(cat .layerstack-registration)" = "$want" ]; then
  unset RUNNER_TOKEN
  svc=$(cat .service 2>/dev/null || true)
  if [ -n "$svc" ] && ! systemctl is-active --quiet "$svc"; then sudo -n ./svc.sh start >&2; fi
  echo "runner $RUNNER_NAME already registered"
  exit 0
fi
if [ -f .service ]; then
  sudo -n ./svc.sh stop >&2 || true
  sudo -n ./svc.sh uninstall >&2 || true
fi
rm -f .runner .credentials .credentials_rsaparams .layerstack-registration
ACTIONS_RUNNER_INPUT_TOKEN=$RUNNER_TOKEN
export ACTIONS_RUNNER_INPUT_TOKEN
unset RUNNER_TOKEN
set -- --unattended --replace --url "$RUNNER_URL" --name "$RUNNER_NAME" --labels "$RUNNER_LABELS" --work _work
[ "$RUNNER_EPHEMERAL" != true ] || set -- "$@" --ephemeral
./config.sh "$@" >&2
unset ACTIONS_RUNNER_INPUT_TOKEN
printf '%s' "$want" > .layerstack-registration
sudo -n ./svc.sh install "$(id -un)" >&2
sudo -n ./svc.sh start >&2
echo "runner $RUNNER_NAME registered"`;

/**
 * Removes the runner from the host (delete): stops and uninstalls the service and drops the
 * local registration. The runner's entry on GitHub is removed by DEREGISTER_SCRIPT, which
 * holds the GitHub token; the host never does.
 */
export const UNREGISTER_HOST_SCRIPT = `set -eu
${READ_PARAMS}
[ -n "\${RUNNER_DIR:-}" ] && [ -d "$RUNNER_DIR" ] || { echo "no runner directory; nothing to remove" >&2; exit 0; }
cd "$RUNNER_DIR"
if [ -f .service ]; then
  sudo -n ./svc.sh stop >&2 || true
  sudo -n ./svc.sh uninstall >&2
fi
rm -f .runner .credentials .credentials_rsaparams .layerstack-registration
echo "runner $RUNNER_NAME removed from $(hostname)"`;

/**
 * Deregisters the runner from the repository through GitHub's REST API (delete, run
 * locally). Inputs: LAYERSTACK_GITHUB_API, LAYERSTACK_GITHUB_OWNER,
 * LAYERSTACK_GITHUB_REPOSITORY, LAYERSTACK_RUNNER_NAME, LAYERSTACK_GITHUB_TOKEN (secret,
 * written to a private header file that curl reads with -H @file).
 */
export const DEREGISTER_SCRIPT = `set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(umask 077 && printf 'Authorization: Bearer %s\\n' "$LAYERSTACK_GITHUB_TOKEN" > "$tmp/auth")
unset LAYERSTACK_GITHUB_TOKEN
api="$LAYERSTACK_GITHUB_API/repos/$LAYERSTACK_GITHUB_OWNER/$LAYERSTACK_GITHUB_REPOSITORY/actions/runners"
curl --fail --silent --show-error --retry 2 -H @"$tmp/auth" -H 'Accept: application/vnd.github+json' \\
  "$api?name=$LAYERSTACK_RUNNER_NAME&per_page=100" > "$tmp/runners"
id=$(node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); const m = (r.runners || []).find((x) => x.name === process.argv[2]); process.stdout.write(m ? String(m.id) : "")' "$tmp/runners" "$LAYERSTACK_RUNNER_NAME")
if [ -z "$id" ]; then
  echo "runner $LAYERSTACK_RUNNER_NAME is not registered with $LAYERSTACK_GITHUB_OWNER/$LAYERSTACK_GITHUB_REPOSITORY; nothing to deregister" >&2
  exit 0
fi
curl --fail --silent --show-error --retry 2 -X DELETE -H @"$tmp/auth" -H 'Accept: application/vnd.github+json' "$api/$id"
echo "runner $LAYERSTACK_RUNNER_NAME ($id) deregistered"`;
