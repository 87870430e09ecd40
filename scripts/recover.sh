#!/usr/bin/env bash
# Recovers a stack after an interrupted `pulumi up` (killed, OOM, lost machine), so that the
# next `pulumi up` finishes the job without rebuilding or re-pushing finished layers.
#
# usage: scripts/recover.sh [--stack NAME]      (default: the selected stack; run in the project dir)
#
# Uses the `pulumi` on PATH and its usual environment (PULUMI_BACKEND_URL,
# PULUMI_CONFIG_PASSPHRASE[_FILE]); `source scripts/env.sh` gives both for the dev stack.
#
# What a killed `up` leaves behind, and what this does about it:
#
#  1. The stack's lock. The file ("DIY") backend writes a lock file under
#     <backend>/.pulumi/locks/<org>/<project>/<stack>/ for the whole update; a killed update
#     never removes it, and every later update says the stack is locked. `pulumi cancel`
#     is the way out on this backend too: for Pulumi Cloud it cancels the service's update,
#     for the file backend (v3.248, backend/diy CancelCurrentUpdate) it deletes the
#     stack's lock files. So it must never run while another update of the stack is alive:
#     this script refuses if a `pulumi` process with this stack is running.
#
#  2. Pending operations. The checkpoint lists the operations that were in flight
#     (`pending_operations`: a layer's build or push being created or updated). The engine
#     only warns about them, and `pulumi refresh` clears pending CREATEs only interactively
#     (or with --clear-pending-creates). We drop them all, provider-free: `pulumi stack
#     export`, remove `pending_operations`, `pulumi stack import`. That is safe here because
#     every layer resource is a command whose effect is idempotent and content-addressed:
#     an interrupted build is `nix-store --realise` of a drvPath (Nix's store is
#     transactional: a half-built output is never valid, a finished one is reused), and an
#     interrupted push writes an immutable tag derived from the same drvPath. The next `up`
#     re-creates exactly the resources that never finished; finished layers are in the
#     state and are left alone.
#
#  3. No `pulumi refresh`: the command resources have no remote state a provider could read
#     back, so a refresh cannot learn anything the checkpoint does not already say (and the
#     registry is checked by the pushes themselves).
#
# The checkpoint as it was is kept in ./.layerstack/recover/<stack>-<time>.json, inside the
# project's ignored .layerstack/ folder (secrets in it stay encrypted; the folder is 0700).
set -euo pipefail

stack=()
while [ $# -gt 0 ]; do
  case "$1" in
    --stack) [ $# -ge 2 ] || { echo "recover: --stack needs a name" >&2; exit 2; }; stack=(--stack "$2"); shift 2 ;;
    --stack=*) stack=(--stack "${1#--stack=}"); shift ;;
    -h|--help) sed -n '2,40p' "$0"; exit 0 ;;
    *) echo "recover: unknown argument: $1" >&2; exit 2 ;;
  esac
done

name=$(pulumi stack "${stack[@]}" --show-name --non-interactive)
# Refuse while an update of this stack is still running (its lock is not stale).
for d in /proc/[0-9]*; do
  [ "$d" != "/proc/$$" ] || continue
  args=$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null) || continue
  case "$args" in
    pulumi\ *|*/pulumi\ *) ;;
    *) continue ;;
  esac
  case " $args " in
    *" up "*|*" update "*|*" destroy "*|*" refresh "*|*" import "*) ;;
    *) continue ;;
  esac
  cwd=$(readlink "$d/cwd" 2>/dev/null || true)
  if [ "$cwd" = "$PWD" ]; then
    echo "recover: pulumi is still running here (pid ${d#/proc/}: $args); stop it first" >&2
    exit 1
  fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. The stale lock.
pulumi cancel "${stack[@]}" --yes --non-interactive >&2

# 2. The pending operations.
pulumi stack export "${stack[@]}" --non-interactive --file "$tmp/state.json"
(umask 077; mkdir -p "$PWD/.layerstack/recover")
backup="$PWD/.layerstack/recover/$name-$(date -u +%Y%m%dT%H%M%SZ).json"
cp "$tmp/state.json" "$backup"
# shellcheck disable=SC2016 # the quoted text is JavaScript, not shell
n=$(node -e '
  const fs = require("fs");
  const f = process.argv[1];
  const s = JSON.parse(fs.readFileSync(f, "utf8"));
  const ops = (s.deployment && s.deployment.pending_operations) || [];
  for (const op of ops) console.error(`recover: dropping pending ${op.type} of ${op.resource.urn}`);
  if (s.deployment) delete s.deployment.pending_operations;
  fs.writeFileSync(f, JSON.stringify(s));
  console.log(ops.length);
' "$tmp/state.json")
if [ "$n" -gt 0 ]; then
  pulumi stack import "${stack[@]}" --non-interactive --file "$tmp/state.json" >&2
fi
echo "recover: stack $name unlocked; $n pending operation(s) dropped (checkpoint before: $backup); run pulumi up" >&2
