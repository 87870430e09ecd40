/**
 * The self-hosted GitHub Actions runner's commands.
 *
 * Every step runs OpenSSH's `ssh` through a local command (`command.local.Command`), the same
 * in production and in the tests. Why not `command.remote.Command`: the official
 * pulumi-command v1.2.1 (pulumi/pulumi-command, provider/pkg/provider/remote/connection.go,
 * `SSHConfig`) checks the host key only when `connection.hostKey` is set and otherwise uses
 * `ssh.InsecureIgnoreHostKey()`; without `privateKey` it falls back to the agent at
 * SSH_AUTH_SOCK and to nothing else; and the project's offline stand-in provider has no
 * remote resource at all, so that path could never run in a test. OpenSSH here runs with a
 * private key file (or, said explicitly, the agent) and a pinned known_hosts entry, and
 * refuses any other host key (StrictHostKeyChecking=yes).
 *
 * What goes over the wire: the host's `sh -s` reads one program from ssh's stdin (see
 * `hostProgram`): the step's host script, with its parameters as NAME=value lines in a quoted
 * here-document. Nothing reaches the host through argv or its environment (sshd would only
 * pass variables its AcceptEnv allows), and secrets (a registration token, the JIT token)
 * travel only inside that stdin. Where the host's /bin/sh keeps a here-document: dash
 * (Debian, Ubuntu) and bash >= 5.1 in a pipe for small ones; older bash in a 0600 file in
 * $TMPDIR that it unlinks at once.
 */

import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_SSH_PORT } from "../defaults";
import { ScriptEnv } from "./env";

/** The runner release installed; it updates itself afterwards (no --disableupdate). */
export const RUNNER_VERSION = "2.337.0";
/**
 * sha256 of actions-runner-linux-x64-2.337.0.tar.gz, as GitHub's release page and its
 * "Add new runner" instructions publish it. GitHub is not reachable from where this was
 * written; the value was cross-checked against seven independent public copies of those
 * instructions, which all agree. The install refuses a tarball that does not match.
 */
export const RUNNER_SHA256 = "70920811a4f8ad4328818682bca5c6469c1c942fab52448868071d0063816613";
/** Where releases are downloaded from: `<url>/v<version>/actions-runner-linux-x64-<version>.tar.gz`. */
export const RUNNER_RELEASE_URL = "https://github.com/actions/runner/releases/download";
/** The pinned tarball's file name. */
export const runnerTarball = (version: string) => `actions-runner-linux-x64-${version}.tar.gz`;

/** The URN glob of the GpuRunner and its children: the naming contract (lib/naming.ts). */
export { RUNNER_URN_GLOB } from "../naming";

/** The names a host script accepts; anything else is ignored. */
export const RUNNER_PARAMS = [
    "RUNNER_DIR", "RUNNER_VERSION", "RUNNER_SHA256", "RUNNER_RELEASE_URL", "RUNNER_URL", "RUNNER_NAME", "RUNNER_LABELS",
    "RUNNER_EPHEMERAL", "RUNNER_TOKEN", "RUNNER_JIT_TOKEN", "RUNNER_JIT_TOKEN_ID", "GITHUB_API", "GITHUB_OWNER", "GITHUB_REPOSITORY",
    "MIN_DRIVER", "CUDA_VERSION", "MIN_FREE_GB", "CHECK_DOCKER_GPU",
] as const;
export type RunnerParam = typeof RUNNER_PARAMS[number];

/** Encodes parameters as NAME=value lines. Values are single lines (checked). */
export function runnerStdin(params: Partial<Record<RunnerParam, string>>): string {
    return Object.entries(params).map(([k, v]) => {
        if (!(RUNNER_PARAMS as readonly string[]).includes(k)) throw new Error(`unknown runner parameter ${k}`);
        if (/[\n\r\0]/.test(v!)) throw new Error(`runner parameter ${k} must be one line`);
        return `${k}=${v}\n`;
    }).join("");
}

/** Ends the here-document of parameters; no parameter line can equal it (they are NAME=value). */
const PARAMS_EOF = "LAYERSTACK_PARAMS";
/** Opens a host program: the parameter loop, reading the here-document that follows. */
const PROGRAM_HEAD = `{
while IFS= read -r line || [ -n "$line" ]; do
  name=\${line%%=*}
  # shellcheck disable=SC2034 # read by the eval below
  value=\${line#*=}
  case "$name" in
    ${RUNNER_PARAMS.join("|")}) eval "$name=\\$value" ;;
  esac
done <<'${PARAMS_EOF}'`;
/** After the parameters: a leading ~/ in RUNNER_DIR means the SSH user's home. */
const PROGRAM_TILDE = `${PARAMS_EOF}
# shellcheck disable=SC2088 # a literal "~/" in the parameter, not a path to expand
case "\${RUNNER_DIR:-}" in "~/"*) RUNNER_DIR="$HOME/\${RUNNER_DIR#"~/"}" ;; esac`;
/**
 * Closes a host program. The whole program is one brace group, which sh parses completely
 * before running any of it, so nothing inside can read the rest of the program from stdin;
 * its own stdin is /dev/null.
 */
const PROGRAM_TAIL = "} </dev/null";

/**
 * The program a host's `sh -s` runs for `script` with `params` (NAME=value lines, as
 * `runnerStdin` makes them). The local scripts build the same text in shell (`frame`);
 * a test checks that both agree.
 */
export function hostProgram(script: string, params: string): string {
    return `${hostProgramPrefix(params)}${script}\n${HOST_PROGRAM_SUFFIX}`;
}

/** What comes before the script in `hostProgram`. */
export function hostProgramPrefix(params: string): string {
    return `${PROGRAM_HEAD}\n${params}${PROGRAM_TILDE}\n`;
}

/** What comes after the script (and its newline) in `hostProgram`. */
export const HOST_PROGRAM_SUFFIX = `${PROGRAM_TAIL}\n`;

/** Runs a bounded command: `timeout` where the host has it (coreutils), else as is. */
const BOUNDED = `bounded() { s=$1; shift; if command -v timeout >/dev/null 2>&1; then timeout "$s" "$@"; else "$@"; fi; }`;

/**
 * The oldest skopeo the pushes and promotions run with: `skopeo copy --preserve-digests` (the
 * promotion, lib/commands/promote.ts) arrived in skopeo 1.6.0 (containers/skopeo#1520; its
 * maintainer in containers/skopeo#1761: "That option was added in Skopeo 1.6.0"); --digestfile
 * and --retry-times are older. Ubuntu 22.04's skopeo (1.4) is too old; Debian bookworm's
 * (1.9.3) and Ubuntu 24.04's are new enough.
 */
export const MIN_SKOPEO_VERSION = "1.6.0";

/**
 * Host script: checks the GPU host before anything is installed: nvidia-smi present, the
 * driver at least MIN_DRIVER (the minimum of CUDA_VERSION), Nix installed, what the CI `up`
 * that runs on this host needs for every push and promotion (skopeo >= MIN_SKOPEO_VERSION,
 * coreutils' `timeout` and util-linux's `setpriv`: scriptStub, lib/commands/bounded.ts),
 * MIN_FREE_GB free for RUNNER_DIR and, with CHECK_DOCKER_GPU=true, Docker with the NVIDIA
 * runtime for the SSH user. Prints `driver=`, `gpu=`, `nix=`, `skopeo=` and `free_gb=` lines
 * (and `docker=` when it checks Docker). Every tool is looked up on the PATH a
 * non-interactive SSH session gets, the PATH the runner's jobs start from.
 */
export const PREFLIGHT_REMOTE = `set -eu
${BOUNDED}
fail() { echo "GPU runner preflight on $(hostname): $*" >&2; exit 1; }
command -v nvidia-smi >/dev/null 2>&1 || fail "nvidia-smi not found: install the NVIDIA driver >= $MIN_DRIVER (needed by CUDA $CUDA_VERSION)"
driver=$(bounded 60 nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>&1 | head -n 1 | tr -d ' ') || true
case "$driver" in [0-9]*.*) ;; *) fail "nvidia-smi did not report a driver version: $driver" ;; esac
if ! printf '%s\\n%s\\n' "$MIN_DRIVER" "$driver" | sort -V -C; then
  fail "NVIDIA driver $driver is too old for CUDA $CUDA_VERSION, which needs >= $MIN_DRIVER"
fi
gpu=$(bounded 60 nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1)
nixbin=$(command -v nix 2>/dev/null || true)
[ -n "$nixbin" ] || [ ! -x /nix/var/nix/profiles/default/bin/nix ] || nixbin=/nix/var/nix/profiles/default/bin/nix
[ -n "$nixbin" ] || fail "Nix is not installed (no nix on PATH or in /nix/var/nix/profiles/default/bin)"
nixver=$("$nixbin" --version | head -n 1)
missing=
for t in skopeo timeout setpriv; do command -v "$t" >/dev/null 2>&1 || missing="$missing $t"; done
[ -z "$missing" ] || fail "not on the runner's PATH ($PATH):$missing; the CI up on this host needs skopeo >= ${MIN_SKOPEO_VERSION} (every push and promotion), GNU coreutils' timeout and util-linux's setpriv (every command bounds itself with them): apt-get install skopeo coreutils util-linux"
skopeover=$(bounded 60 skopeo --version 2>&1 | head -n 1 | sed -n 's/^skopeo version \\([0-9][0-9.]*\\).*/\\1/p')
[ -n "$skopeover" ] || fail "skopeo --version did not report a version"
if ! printf '%s\\n%s\\n' "${MIN_SKOPEO_VERSION}" "$skopeover" | sort -V -C; then
  fail "skopeo $skopeover is too old: the promotion's skopeo copy --preserve-digests needs skopeo >= ${MIN_SKOPEO_VERSION}"
fi
parent=$RUNNER_DIR
while [ ! -d "$parent" ]; do parent=$(dirname "$parent"); done
free_kb=$(df -Pk "$parent" | awk 'NR==2 {print $4}')
free_gb=$((free_kb / 1024 / 1024))
[ "$free_gb" -ge "$MIN_FREE_GB" ] || fail "only $free_gb GB free under $parent; the runner needs $MIN_FREE_GB GB"
if [ "\${CHECK_DOCKER_GPU:-}" = true ]; then
  command -v docker >/dev/null 2>&1 || fail "docker not found: the layers' smoke checks run in Docker containers here (install Docker and the NVIDIA Container Toolkit)"
  dockerver=$(bounded 60 docker version --format '{{.Server.Version}}' 2>&1) || fail "docker cannot reach its daemon as $(id -un): $dockerver (add the user to the docker group)"
  runtimes=$(bounded 60 docker info --format '{{json .Runtimes}}' 2>/dev/null || true)
  case "$runtimes" in
    *nvidia*) ;;
    *) command -v nvidia-ctk >/dev/null 2>&1 || fail "Docker has no nvidia runtime and nvidia-ctk is missing: install the NVIDIA Container Toolkit (nvidia-ctk runtime configure --runtime=docker), or containers get no GPU" ;;
  esac
  echo "docker=$dockerver"
fi
echo "driver=$driver"
echo "gpu=$gpu"
echo "nix=$nixver"
echo "skopeo=$skopeover"
echo "free_gb=$free_gb"`;

/**
 * Whether the runner's .NET libraries find what they link against, asked as the release's
 * config.sh asks before it does anything (actions/runner src/Misc/layoutroot/config.sh: `ldd` of
 * bin/libcoreclr.so and two more libraries must find every library, and `ldconfig -NXv` must list
 * a libicu; otherwise "Libicu's dependencies is missing" and a request to run
 * `sudo ./bin/installdependencies.sh`). Prints what is missing; nothing when all is there.
 */
const RUNNER_DEPS = `runner_deps_missing() {
  for lib in libcoreclr.so libSystem.Security.Cryptography.Native.OpenSsl.so libSystem.IO.Compression.Native.so; do
    [ ! -e "./bin/$lib" ] || ! ldd "./bin/$lib" 2>/dev/null | grep -q 'not found' || echo "libraries of bin/$lib"
  done
  ldconfig_cmd=ldconfig
  command -v ldconfig >/dev/null 2>&1 || ldconfig_cmd=/sbin/ldconfig
  # shellcheck disable=SC2046 # config.sh splits LD_LIBRARY_PATH into words the same way
  "$ldconfig_cmd" -NXv $(printf '%s' "\${LD_LIBRARY_PATH:-}" | tr ':' ' ') 2>&1 | grep -q libicu || echo libicu
}`;

/**
 * Host script: installs RUNNER_VERSION into RUNNER_DIR from
 * `RUNNER_RELEASE_URL/v<version>/actions-runner-linux-x64-<version>.tar.gz`, after checking the
 * tarball against RUNNER_SHA256, then the runner's .NET dependencies when config.sh would stop
 * without them (RUNNER_DEPS): the release's own `bin/installdependencies.sh` (apt, dnf, zypper...),
 * through `sudo -n`, which needs root. Idempotent: a directory that already holds this tarball,
 * with its dependencies found, is left alone.
 */
export const INSTALL_REMOTE = `set -eu
${RUNNER_DEPS}
deps() {
  missing=$(runner_deps_missing | tr '\\n' ' ' | sed 's/ $//')
  [ -n "$missing" ] || return 0
  echo "runner $RUNNER_VERSION: its .NET dependencies are missing ($missing): running sudo ./bin/installdependencies.sh" >&2
  sudo -n ./bin/installdependencies.sh >&2 || { echo "runner $RUNNER_VERSION: sudo -n ./bin/installdependencies.sh failed in $RUNNER_DIR: run it there as root" >&2; exit 1; }
  missing=$(runner_deps_missing | tr '\\n' ' ' | sed 's/ $//')
  [ -z "$missing" ] || { echo "runner $RUNNER_VERSION: still missing after bin/installdependencies.sh: $missing (config.sh would stop: Libicu's dependencies is missing)" >&2; exit 1; }
}
mkdir -p "$RUNNER_DIR"
cd "$RUNNER_DIR"
marker="$RUNNER_VERSION $RUNNER_SHA256"
if [ -f .layerstack-version ] && [ "$(cat .layerstack-version)" = "$marker" ] && [ -x ./config.sh ]; then
  deps
  echo "runner $RUNNER_VERSION already installed in $RUNNER_DIR"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl --fail --silent --show-error --location --retry 3 --connect-timeout 30 --max-time 900 -o "$tmp/runner.tar.gz" \\
  "$RUNNER_RELEASE_URL/v$RUNNER_VERSION/actions-runner-linux-x64-$RUNNER_VERSION.tar.gz"
if ! printf '%s  %s\\n' "$RUNNER_SHA256" "$tmp/runner.tar.gz" | sha256sum -c - >/dev/null 2>&1; then
  echo "actions-runner $RUNNER_VERSION: sha256 mismatch (expected $RUNNER_SHA256); not installed" >&2
  exit 1
fi
tar -xzf "$tmp/runner.tar.gz" -C "$RUNNER_DIR"
deps
printf '%s\\n' "$marker" > .layerstack-version
echo "runner $RUNNER_VERSION installed in $RUNNER_DIR"`;

/**
 * What the host's registration should be, and how to stop whatever runs now. Shared by the
 * state, register and unregister scripts. The ephemeral mode's systemd unit is
 * `layerstack-runner-<name>`; its root-owned files live in /etc/layerstack/<unit>.
 */
const REGISTRATION = `unit="layerstack-runner-$RUNNER_NAME"
etc="/etc/layerstack/$unit"
unitfile="/etc/systemd/system/$unit.service"
mode=persistent
[ "\${RUNNER_EPHEMERAL:-}" != true ] || mode=jit
# shellcheck disable=SC2034 # want: read by STATE_REMOTE and REGISTER_REMOTE, not by UNREGISTER_REMOTE
want=$(printf '%s|' "$mode" "\${RUNNER_URL:-}" "$RUNNER_NAME" "\${RUNNER_LABELS:-}" "\${RUNNER_VERSION:-}" "\${RUNNER_JIT_TOKEN_ID:-}" "\${GITHUB_API:-}")
# Stops and removes the config.sh service (svc.sh, which config.sh generates) and our JIT unit.
stop_all() {
  if [ -f .service ]; then
    sudo -n ./svc.sh stop >&2 || true
    sudo -n ./svc.sh uninstall >&2 || true
  fi
  if [ -f "$unitfile" ]; then
    sudo -n systemctl disable --now "$unit" >&2 || true
    sudo -n rm -rf "$unitfile" "$etc"
    sudo -n systemctl daemon-reload >&2
  fi
  rm -f .runner .credentials .credentials_rsaparams .layerstack-registration
}`;

/**
 * Host script: reports whether the host's registration is the one asked for
 * (`state=current`) or not (`state=changed`) on its last line. No token is needed to ask,
 * so REGISTER_SCRIPT mints one only after `state=changed`. A current registration whose
 * service is not running is started again.
 */
export const STATE_REMOTE = `set -eu
${REGISTRATION}
if [ -d "$RUNNER_DIR" ] && cd "$RUNNER_DIR" && [ -f .layerstack-registration ] && [ "$(cat .layerstack-registration)" = "$want" ]; then
  if [ "$mode" = jit ]; then
    if [ -f "$unitfile" ]; then
      systemctl is-active --quiet "$unit" || sudo -n systemctl start "$unit" >&2
      echo state=current
      exit 0
    fi
  elif [ -f .runner ] && [ -f .service ]; then
    systemctl is-active --quiet "$(cat .service)" || sudo -n ./svc.sh start >&2
    echo state=current
    exit 0
  fi
fi
echo state=changed`;

/** run.sh's exit status when GitHub refused the JIT token (EX_CONFIG): the unit then stops restarting. */
export const JIT_REFUSED_STATUS = 78;

/**
 * Host script run by systemd as root before each start of the ephemeral runner's unit
 * (`ExecStartPre=+`): asks GitHub for a fresh just-in-time configuration
 * (`POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig`, GitHub's REST API
 * "Create configuration for a just-in-time runner for a repository") with the token in
 * the root-only file $1, and leaves it in the unit's private runtime directory for the
 * runner user. A 409 means a runner of this name is still registered (a JIT registration
 * that never took a job, e.g. before a reboot): it is deleted and the request repeated.
 * The token file is root's (0600): the runner's jobs, which run as the runner user, cannot
 * read it through the file system.
 */
export const JIT_CONFIG_SCRIPT = `set -eu
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{ printf 'Authorization: Bearer '; cat "$1"; } > "$tmp/auth"
api="$LAYERSTACK_GITHUB_API/repos/$LAYERSTACK_GITHUB_OWNER/$LAYERSTACK_GITHUB_REPOSITORY/actions/runners"
labels=$(printf '%s' "$LAYERSTACK_RUNNER_LABELS" | sed 's/[^,][^,]*/"&"/g')
printf '{"name":"%s","runner_group_id":1,"labels":[%s],"work_folder":"_work"}' "$LAYERSTACK_RUNNER_NAME" "$labels" > "$tmp/body"
# An unreachable GitHub is code 000 (curl's -w), which the case below reports.
gh() { curl --silent --show-error --connect-timeout 30 --max-time 60 -H @"$tmp/auth" -H 'Accept: application/vnd.github+json' -H 'X-GitHub-Api-Version: 2022-11-28' "$@"; }
code=$(gh -o "$tmp/jit.json" -w '%{http_code}' -X POST --data-binary @"$tmp/body" "$api/generate-jitconfig") || true
if [ "$code" = 409 ]; then
  gh --fail -o "$tmp/list.json" "$api?name=$LAYERSTACK_RUNNER_NAME"
  id=$(tr -d ' \\n\\r\\t' < "$tmp/list.json" | sed -n 's/.*"runners":\\[{"id":\\([0-9][0-9]*\\).*/\\1/p')
  [ -z "$id" ] || gh --fail -o /dev/null -X DELETE "$api/$id"
  echo "layerstack: removed the stale registration of $LAYERSTACK_RUNNER_NAME ($id)" >&2
  code=$(gh -o "$tmp/jit.json" -w '%{http_code}' -X POST --data-binary @"$tmp/body" "$api/generate-jitconfig") || true
fi
case "$code" in
  401|403)
    # Retrying cannot help: the token has expired or was revoked. run.sh reads this and exits
    # JIT_REFUSED_STATUS, which the unit's RestartPreventExitStatus makes final.
    msg="layerstack: GitHub refused the token in $1 (HTTP $code): it has expired, was revoked or lacks Administration: write on $LAYERSTACK_GITHUB_OWNER/$LAYERSTACK_GITHUB_REPOSITORY. The unit stops restarting; set a new layerstack:runnerJitToken and run npm run runner, which re-installs and restarts it"
    echo "$msg" >&2
    printf '%s\\n' "$msg" > "$RUNTIME_DIRECTORY/refused"
    exit 0 ;;
  201) ;;
  *) echo "layerstack: generate-jitconfig for $LAYERSTACK_RUNNER_NAME answered HTTP $code; systemd starts the unit again, waiting longer each time" >&2; exit 1 ;;
esac
jit=$(tr -d ' \\n\\r\\t' < "$tmp/jit.json" | sed -n 's/.*"encoded_jit_config":"\\([A-Za-z0-9+\\/=]*\\)".*/\\1/p')
[ -n "$jit" ] || { echo "layerstack: generate-jitconfig for $LAYERSTACK_RUNNER_NAME returned no encoded_jit_config" >&2; exit 1; }
printf '%s' "$jit" > "$RUNTIME_DIRECTORY/jitconfig.new"
chown "$LAYERSTACK_RUNNER_USER" "$RUNTIME_DIRECTORY/jitconfig.new"
mv "$RUNTIME_DIRECTORY/jitconfig.new" "$RUNTIME_DIRECTORY/jitconfig"
echo "layerstack: fresh just-in-time configuration for $LAYERSTACK_RUNNER_NAME" >&2`;

/**
 * Host script the ephemeral runner's unit runs as the runner user (`ExecStart`): takes the
 * configuration JIT_CONFIG_SCRIPT left, removes the file, and runs `run.sh` with it in
 * ACTIONS_RUNNER_INPUT_JITCONFIG, never in argv: actions/runner
 * (src/Runner.Listener/CommandSettings.cs) reads every ACTIONS_RUNNER_INPUT_<NAME> variable as
 * the argument --<name>, masks it as a secret (jitconfig is in Constants.Runner.CommandLine
 * .Args.Secrets, src/Runner.Common/Constants.cs) and removes it from its own environment
 * before any job starts; src/Runner.Listener/Runner.cs writes the decoded configuration into
 * the runner directory and, the runner being ephemeral, takes one job, deletes its local
 * configuration and exits 0. run.sh then exits (src/Misc/layoutroot/run.sh), and systemd
 * (Restart=always) starts the unit again, which fetches the next configuration.
 * The PATH is the one REGISTER_REMOTE recorded in .path, as the runner's own service does
 * (src/Misc/layoutbin/runsvc.sh).
 */
export const JIT_RUN_SCRIPT = `set -eu
if [ -f "$RUNTIME_DIRECTORY/refused" ]; then cat "$RUNTIME_DIRECTORY/refused" >&2; exit ${JIT_REFUSED_STATUS}; fi
[ ! -f .path ] || { PATH=$(cat .path); export PATH; }
ACTIONS_RUNNER_INPUT_JITCONFIG=$(cat "$RUNTIME_DIRECTORY/jitconfig")
rm -f "$RUNTIME_DIRECTORY/jitconfig"
export ACTIONS_RUNNER_INPUT_JITCONFIG
exec ./run.sh`;

/**
 * The ephemeral runner's systemd unit; REGISTER_REMOTE expands the $variables.
 * Restarts back off: 10 s after the first failure, growing over 8 steps to 30 min
 * (RestartSteps=, RestartMaxDelaySec=, systemd >= 254; an older systemd logs them as unknown and
 * restarts every 10 s). A refused token stops the restarts: run.sh exits JIT_REFUSED_STATUS, the
 * journal says why (JIT_CONFIG_SCRIPT), and RestartPreventExitStatus keeps the unit down until
 * `npm run runner` installs a new token.
 */
const JIT_UNIT = `[Unit]
Description=layerstack just-in-time GitHub Actions runner $RUNNER_NAME
After=network-online.target
Wants=network-online.target
StartLimitIntervalSec=0

[Service]
User=$user
WorkingDirectory=$RUNNER_DIR
RuntimeDirectory=$unit
RuntimeDirectoryMode=0700
Environment="LAYERSTACK_GITHUB_API=$GITHUB_API" "LAYERSTACK_GITHUB_OWNER=$GITHUB_OWNER" "LAYERSTACK_GITHUB_REPOSITORY=$GITHUB_REPOSITORY"
Environment="LAYERSTACK_RUNNER_NAME=$RUNNER_NAME" "LAYERSTACK_RUNNER_LABELS=self-hosted,linux,x64,$RUNNER_LABELS" "LAYERSTACK_RUNNER_USER=$user"
Environment="RUNNER_MANUALLY_TRAP_SIG=1"
ExecStartPre=+/bin/sh $etc/jitconfig.sh $etc/token
ExecStart=/bin/sh $etc/run.sh
Restart=always
RestartSec=10
RestartSteps=8
RestartMaxDelaySec=30min
RestartPreventExitStatus=${JIT_REFUSED_STATUS}
KillMode=mixed
TimeoutStopSec=5min

[Install]
WantedBy=multi-user.target`;

/**
 * Host script: registers the runner (create and update, after STATE_REMOTE said
 * `state=changed`). First whatever runs now is stopped and removed. Then:
 * - persistent mode: `config.sh --replace` with the registration token in
 *   ACTIONS_RUNNER_INPUT_TOKEN (the runner's environment form of --token,
 *   src/Runner.Listener/CommandSettings.cs), then the service config.sh generated (svc.sh);
 * - ephemeral mode: no registration at all here. A systemd unit (JIT_UNIT) asks GitHub for a
 *   just-in-time configuration before each start and takes one job per start; its GitHub
 *   token (RUNNER_JIT_TOKEN) goes into a root-only file.
 * config.sh records the session's PATH in .path for the jobs (src/Misc/layoutroot/env.sh),
 * so Nix's profiles are put on it first, whether or not they exist yet: a fresh runner user has
 * no ~/.nix-profile until a job installs into it (cachix-action's `nix profile install`, then
 * `which cachix`), and .path is read only at registration. install-nix-action adds the same
 * directories before they exist, for this reason (cachix/install-nix-action install-nix.sh:
 * "These directories are created by calling `nix profile`, so they don't exist at this point").
 * Ephemeral mode writes the same .path itself.
 * Needs passwordless sudo for svc.sh, systemctl and the files under /etc.
 */
export const REGISTER_REMOTE = `set -eu
${BOUNDED}
${REGISTRATION}
cd "$RUNNER_DIR"
for d in /nix/var/nix/profiles/default/bin "$HOME/.nix-profile/bin"; do
  case ":$PATH:" in *":$d:"*) ;; *) PATH="$d:$PATH" ;; esac
done
export PATH
stop_all
if [ "$mode" = persistent ]; then
  ACTIONS_RUNNER_INPUT_TOKEN=$RUNNER_TOKEN
  export ACTIONS_RUNNER_INPUT_TOKEN
  unset RUNNER_TOKEN
  bounded 300 ./config.sh --unattended --replace --url "$RUNNER_URL" --name "$RUNNER_NAME" --labels "$RUNNER_LABELS" --work _work >&2
  unset ACTIONS_RUNNER_INPUT_TOKEN
  sudo -n ./svc.sh install "$(id -un)" >&2
  sudo -n ./svc.sh start >&2
else
  user=$(id -un)
  w=$(mktemp -d)
  trap 'rm -rf "$w"' EXIT
  (umask 077 && printf '%s\\n' "$RUNNER_JIT_TOKEN" > "$w/token")
  unset RUNNER_JIT_TOKEN
  printf '%s\\n' "$PATH" > .path
  cat > "$w/jitconfig.sh" <<'LAYERSTACK_JIT_CONFIG'
${JIT_CONFIG_SCRIPT}
LAYERSTACK_JIT_CONFIG
  cat > "$w/run.sh" <<'LAYERSTACK_JIT_RUN'
${JIT_RUN_SCRIPT}
LAYERSTACK_JIT_RUN
  cat > "$w/unit" <<LAYERSTACK_JIT_UNIT
${JIT_UNIT}
LAYERSTACK_JIT_UNIT
  sudo -n install -d -m 0755 -o root -g root /etc/layerstack "$etc"
  sudo -n install -m 0600 -o root -g root "$w/token" "$etc/token"
  sudo -n install -m 0755 -o root -g root "$w/jitconfig.sh" "$etc/jitconfig.sh"
  sudo -n install -m 0755 -o root -g root "$w/run.sh" "$etc/run.sh"
  sudo -n install -m 0644 -o root -g root "$w/unit" "$unitfile"
  sudo -n systemctl daemon-reload >&2
  sudo -n systemctl enable "$unit" >&2
  sudo -n systemctl restart "$unit" >&2
fi
printf '%s' "$want" > .layerstack-registration
echo "runner $RUNNER_NAME registered ($mode)"`;

/**
 * Host script: removes the runner from the host (delete): stops and removes its service and
 * its local registration. The runner's entry on GitHub is removed by DEREGISTER_SCRIPT, which
 * holds the GitHub token; the host never does.
 */
export const UNREGISTER_REMOTE = `set -eu
${REGISTRATION}
[ -d "$RUNNER_DIR" ] || { echo "no runner directory; nothing to remove" >&2; exit 0; }
cd "$RUNNER_DIR"
stop_all
echo "runner $RUNNER_NAME removed from $(hostname)"`;

const REMOTE_EOF = "LAYERSTACK_HOST_SCRIPT";

/**
 * The local side of every SSH step. Inputs (environment): LAYERSTACK_SSH_HOST,
 * LAYERSTACK_SSH_PORT, LAYERSTACK_SSH_USER, LAYERSTACK_SSH_HOST_KEY (`<type> <base64>`, the
 * only key accepted), and either LAYERSTACK_SSH_KEY (secret: the private key) or
 * LAYERSTACK_SSH_AGENT=true (use SSH_AUTH_SOCK). Stdin: the step's parameters.
 * The key and known_hosts are files in a private `mktemp -d` directory (umask 077). ssh
 * reads no configuration file (-F none), never prompts (BatchMode) and gives up on a
 * dead host (ConnectTimeout, ServerAlive*). `frame` builds `hostProgram`'s text; `last`
 * execs ssh as the last program, so a timeout or cancel that kills the command's direct
 * child kills ssh itself; a detached watcher removes the directory once that process is gone.
 */
const SSH_PREAMBLE = `set -eu
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "GPU runner: $*" >&2; exit 1; }
cat > "$tmp/params"
printf 'layerstack-runner %s\\n' "$LAYERSTACK_SSH_HOST_KEY" > "$tmp/known_hosts"
set -- -F none -p "$LAYERSTACK_SSH_PORT" -o BatchMode=yes -o ConnectTimeout=30 -o ServerAliveInterval=15 -o ServerAliveCountMax=4 \\
  -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$tmp/known_hosts" -o GlobalKnownHostsFile=/dev/null \\
  -o HostKeyAlias=layerstack-runner -o UpdateHostKeys=no -o LogLevel=ERROR
if [ -n "\${LAYERSTACK_SSH_KEY:-}" ]; then
  printf '%s\\n' "$LAYERSTACK_SSH_KEY" > "$tmp/id"
  set -- "$@" -o IdentitiesOnly=yes -o IdentityAgent=none -i "$tmp/id"
elif [ "\${LAYERSTACK_SSH_AGENT:-}" = true ]; then
  [ -n "\${SSH_AUTH_SOCK:-}" ] || fail "layerstack:runnerSshAgent is true, but SSH_AUTH_SOCK is not set: start an agent holding the runner's key"
else
  fail "no SSH key: set layerstack:runnerSshKey, or layerstack:runnerSshAgent to true to use your SSH agent"
fi
unset LAYERSTACK_SSH_KEY
target="$LAYERSTACK_SSH_USER@$LAYERSTACK_SSH_HOST"
frame() {
  cat <<'${REMOTE_EOF}'
${PROGRAM_HEAD}
${REMOTE_EOF}
  cat "$tmp/params"
  [ -z "\${2:-}" ] || cat "$2"
  cat <<'${REMOTE_EOF}'
${PROGRAM_TILDE}
${REMOTE_EOF}
  cat "$1"
  printf '%s\\n' '${PROGRAM_TAIL}'
}
last() {
  pid=$$
  (trap '' HUP INT TERM; while kill -0 "$pid" 2>/dev/null; do sleep 1; done; rm -rf "$tmp") </dev/null >/dev/null 2>&1 &
  trap - EXIT
  exec ssh "$@" "$target" 'sh -s' < "$tmp/program"
}`;

/** A local script that writes the named host scripts into $tmp/<name>.sh, then runs `steps`. */
function sshScript(remotes: Record<string, string>, steps: string): string {
    const files = Object.entries(remotes).map(([name, body]) => {
        if (body.split("\n").includes(REMOTE_EOF)) throw new Error(`host script ${name} contains ${REMOTE_EOF}`);
        return `cat > "$tmp/${name}.sh" <<'${REMOTE_EOF}'\n${body}\n${REMOTE_EOF}`;
    });
    return [SSH_PREAMBLE, ...files, steps].join("\n");
}

/** Runs PREFLIGHT_REMOTE on the host; its stdout is the preflight's facts. */
export const PREFLIGHT_SCRIPT = sshScript({ preflight: PREFLIGHT_REMOTE }, `frame "$tmp/preflight.sh" > "$tmp/program"
last "$@"`);

/** Runs INSTALL_REMOTE on the host. */
export const INSTALL_SCRIPT = sshScript({ install: INSTALL_REMOTE }, `frame "$tmp/install.sh" > "$tmp/program"
last "$@"`);

/** Runs UNREGISTER_REMOTE on the host (the registration's delete). */
export const UNREGISTER_SCRIPT = sshScript({ unregister: UNREGISTER_REMOTE }, `frame "$tmp/unregister.sh" > "$tmp/program"
last "$@"`);

/**
 * Registers the runner (create and update). Asks the host for its registration state
 * (STATE_REMOTE); when it is the one asked for, stops there: no token is minted and nothing
 * changes. Otherwise, in persistent mode, mints a registration token through GitHub's REST
 * API (`POST /repos/{owner}/{repo}/actions/runners/registration-token`, with the GitHub
 * token in a private header file read by `curl -H @file`), and runs REGISTER_REMOTE with the
 * token among its parameters, on stdin only. Ephemeral mode mints nothing here: the host's
 * unit does, with LAYERSTACK_RUNNER_JIT_TOKEN, whose fingerprint is part of the state.
 * Inputs besides SSH_PREAMBLE's: LAYERSTACK_GITHUB_API, LAYERSTACK_GITHUB_OWNER,
 * LAYERSTACK_GITHUB_REPOSITORY, LAYERSTACK_GITHUB_TOKEN (secret) and, for ephemeral mode,
 * LAYERSTACK_RUNNER_JIT_TOKEN (secret).
 */
export const REGISTER_SCRIPT = sshScript({ state: STATE_REMOTE, register: REGISTER_REMOTE }, `name=$(sed -n 's/^RUNNER_NAME=//p' "$tmp/params")
: > "$tmp/secret"
if grep -qx 'RUNNER_EPHEMERAL=true' "$tmp/params"; then
  case "\${LAYERSTACK_RUNNER_JIT_TOKEN:-}" in
    "") fail "ephemeral mode needs layerstack:runnerJitToken" ;;
    *[!A-Za-z0-9_.-]*) fail "layerstack:runnerJitToken is not a GitHub token (letters, digits, '_', '.', '-')" ;;
  esac
  printf 'RUNNER_JIT_TOKEN=%s\\n' "$LAYERSTACK_RUNNER_JIT_TOKEN" > "$tmp/secret"
  printf '%s' "$LAYERSTACK_RUNNER_JIT_TOKEN" | node -e 'let d = ""; process.stdin.on("data", (c) => (d += c)).on("end", () => process.stdout.write("RUNNER_JIT_TOKEN_ID=" + require("crypto").createHash("sha256").update(d).digest("hex").slice(0, 16) + "\\n"))' >> "$tmp/params"
fi
unset LAYERSTACK_RUNNER_JIT_TOKEN
frame "$tmp/state.sh" > "$tmp/program"
state=$(ssh "$@" "$target" 'sh -s' < "$tmp/program")
case "$state" in
  *state=current) echo "runner $name is registered as asked: no token minted, nothing changed"; exit 0 ;;
  *state=changed) ;;
  *) fail "the host did not report its registration state" ;;
esac
if [ ! -s "$tmp/secret" ]; then
  printf 'Authorization: Bearer %s\\n' "$LAYERSTACK_GITHUB_TOKEN" > "$tmp/auth"
  unset LAYERSTACK_GITHUB_TOKEN
  curl --fail --silent --show-error --connect-timeout 30 --max-time 60 --retry 2 -X POST -H @"$tmp/auth" \\
    -H 'Accept: application/vnd.github+json' -H 'X-GitHub-Api-Version: 2022-11-28' -o "$tmp/token.json" \\
    "$LAYERSTACK_GITHUB_API/repos/$LAYERSTACK_GITHUB_OWNER/$LAYERSTACK_GITHUB_REPOSITORY/actions/runners/registration-token"
  node -e 'const t = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).token; if (typeof t !== "string" || !/^[A-Za-z0-9_.-]+$/.test(t)) { console.error("GPU runner: GitHub returned no registration token"); process.exit(1); } process.stdout.write("RUNNER_TOKEN=" + t + "\\n");' "$tmp/token.json" > "$tmp/secret"
  rm -f "$tmp/auth" "$tmp/token.json"
  echo "runner $name: registration token minted" >&2
fi
unset LAYERSTACK_GITHUB_TOKEN
frame "$tmp/register.sh" "$tmp/secret" > "$tmp/program"
rm -f "$tmp/secret"
last "$@"`);

/**
 * Deregisters the runner from the repository through GitHub's REST API (delete, run
 * locally). Inputs: LAYERSTACK_GITHUB_API, LAYERSTACK_GITHUB_OWNER,
 * LAYERSTACK_GITHUB_REPOSITORY, LAYERSTACK_RUNNER_NAME, LAYERSTACK_GITHUB_TOKEN (secret,
 * written to a private header file that curl reads with -H @file).
 */
export const DEREGISTER_SCRIPT = `set -eu
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'Authorization: Bearer %s\\n' "$LAYERSTACK_GITHUB_TOKEN" > "$tmp/auth"
unset LAYERSTACK_GITHUB_TOKEN
api="$LAYERSTACK_GITHUB_API/repos/$LAYERSTACK_GITHUB_OWNER/$LAYERSTACK_GITHUB_REPOSITORY/actions/runners"
curl --fail --silent --show-error --connect-timeout 30 --max-time 60 --retry 2 -H @"$tmp/auth" -H 'Accept: application/vnd.github+json' \\
  "$api?name=$LAYERSTACK_RUNNER_NAME&per_page=100" > "$tmp/runners"
id=$(node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); const m = (r.runners || []).find((x) => x.name === process.argv[2]); process.stdout.write(m ? String(m.id) : "")' "$tmp/runners" "$LAYERSTACK_RUNNER_NAME")
if [ -z "$id" ]; then
  echo "runner $LAYERSTACK_RUNNER_NAME is not registered with $LAYERSTACK_GITHUB_OWNER/$LAYERSTACK_GITHUB_REPOSITORY; nothing to deregister" >&2
  exit 0
fi
curl --fail --silent --show-error --connect-timeout 30 --max-time 60 --retry 2 -X DELETE -H @"$tmp/auth" -H 'Accept: application/vnd.github+json' "$api/$id"
echo "runner $LAYERSTACK_RUNNER_NAME ($id) deregistered"`;

/** How the GPU host is reached (SSH_PREAMBLE's inputs). */
export interface SshConnection {
    /** The host name or address. @example "gpu1.example.com" */
    readonly host: string;
    /** The SSH user the runner is installed for. @example "ci" */
    readonly user: string;
    /** @default DEFAULT_SSH_PORT (22) */
    readonly port?: number;
    /** `<type> <base64>`: the only host key accepted. */
    readonly hostKey: string;
    /** The private key; must be a secret. Exactly one of `privateKey` and `agent`. @default none */
    readonly privateKey?: pulumi.Input<string>;
    /** Authenticate with the SSH agent at SSH_AUTH_SOCK. @default false */
    readonly agent?: boolean;
}

/** Every SSH step's environment (SSH_PREAMBLE); the key secret. */
export function sshEnv(c: SshConnection): ScriptEnv {
    return {
        LAYERSTACK_SSH_HOST: c.host,
        LAYERSTACK_SSH_PORT: String(c.port ?? DEFAULT_SSH_PORT),
        LAYERSTACK_SSH_USER: c.user,
        LAYERSTACK_SSH_HOST_KEY: c.hostKey,
        ...(c.privateKey !== undefined ? { LAYERSTACK_SSH_KEY: pulumi.secret(c.privateKey) } : { LAYERSTACK_SSH_AGENT: "true" }),
    };
}

/** The repository a GitHub step works on (REGISTER_SCRIPT, DEREGISTER_SCRIPT); the token secret. */
export function githubEnv(g: { readonly apiUrl: string; readonly owner: string; readonly repository: string; readonly token: pulumi.Input<string> }): ScriptEnv {
    return {
        LAYERSTACK_GITHUB_API: g.apiUrl,
        LAYERSTACK_GITHUB_OWNER: g.owner,
        LAYERSTACK_GITHUB_REPOSITORY: g.repository,
        LAYERSTACK_GITHUB_TOKEN: pulumi.secret(g.token),
    };
}

/** The deregistration's environment (DEREGISTER_SCRIPT). */
export function deregisterEnv(github: ScriptEnv, runnerName: string): ScriptEnv {
    return { ...github, LAYERSTACK_RUNNER_NAME: runnerName };
}

/** The registration's environment (REGISTER_SCRIPT): SSH, GitHub and, for ephemeral runners, the JIT token (secret). */
export function registerEnv(ssh: ScriptEnv, github: ScriptEnv, jitToken?: pulumi.Input<string>): ScriptEnv {
    return { ...ssh, ...github, ...(jitToken !== undefined ? { LAYERSTACK_RUNNER_JIT_TOKEN: pulumi.secret(jitToken) } : {}) };
}
