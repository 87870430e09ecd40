# shellcheck shell=bash
# Sourced by scripts/toolchain.sh: the dev toolchain's Nix, a current one from Debian's
# trixie suite, unpacked into a private prefix (never installed into the system, whose
# bookworm libc is older than trixie's). Users' own Nix is never touched: production stacks
# run on the system's Nix as it is (README: "The two toolchains").
#
#   $CACHE/nix/<debian version>/prefix   nix-bin and the shared libraries it needs, `dpkg -x`ed;
#                                        usr/bin/nix gets the prefix's loader and a DT_RPATH
#                                        (patchelf --force-rpath: the libraries' own
#                                        dependencies resolve there too)
#   <repo>/.layerstack/nix/bin           links to it (nix, nix-store, nix-daemon, ...): the
#                                        dev world puts this first on PATH (scripts/env.sh
#                                        does not; the pulumi wrapper and scripts/test.sh do)
#
# The mirror is the one this machine's apt already names, with the suite `trixie`, in apt
# state directories of our own, so the system's apt lists and caches stay as they are.
# Needs from the host: apt-get, dpkg, patchelf, and /usr/bin/bash-static (Debian's Nix is
# built to give builders that shell: debian/rules --with-sandbox-shell).

NIX_SUITE=trixie
NIX_OLD_SUITE=bookworm
NIX_MIN_DEBIAN_UPSTREAM=2.26

nix_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # deb822: the first Debian archive's URI (not the security archive's).
    uri=$(awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' "$f")
    if [ -n "$uri" ]; then echo "$uri"; return; fi
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$f")
    if [ -n "$uri" ]; then echo "$uri"; return; fi
  done
  return 1
}

# unpack_nix SUITE DEST: nix-bin of a Debian suite and the libraries it loads, `dpkg -x`ed into
# DEST/prefix (once; DEST/version holds the Debian version). Prints the version.
unpack_nix() {
  local suite="$1" dest="$2" apt_dir="$CACHE/nix/apt-$1" mirror version tmp pkgs p
  if [ -f "$dest/version" ] && [ -x "$dest/prefix/usr/bin/nix" ]; then cat "$dest/version"; return; fi
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  : >"$apt_dir/status"
  local apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/nonexistent
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "Dir::State::Status=$apt_dir/status"
    -o APT::Install-Recommends=false -o APT::Sandbox::User=root)
  mirror=$(nix_mirror) || die "no Debian mirror in /etc/apt/sources.list*: Nix comes from Debian's $suite suite"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" >"$apt_dir/sources.list"
  step "nix: reading Debian $suite's package lists"
  apt-get "${apt_opts[@]}" update -qq >&2 || die "apt-get update of $suite failed"
  version=$(apt-cache "${apt_opts[@]}" policy nix-bin | awk '/Candidate:/ { print $2 }')
  { [ -n "$version" ] && [ "$version" != "(none)" ]; } || die "Debian $suite serves no nix-bin"
  step "nix: unpacking nix-bin $version ($suite) and its libraries into $dest"
  tmp="$dest.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp/deb" "$tmp/prefix"
  # What apt would install on an empty system, less what Nix's binary does not load
  # (perl and its modules serve only nix-bin's perl bindings; PAM, the shadow tools).
  pkgs=()
  while read -r p; do pkgs+=("$p"); done < <(apt-get "${apt_opts[@]}" -s install nix-bin 2>/dev/null \
    | awk '/^Inst / { print $2 }' | grep -E '^(lib|nix-bin$)' | grep -vE 'perl|^libpam|^libsemanage|^libaudit|^libdebconf|^libdb5')
  (cd "$tmp/deb" && apt-get -qq "${apt_opts[@]}" download "${pkgs[@]}" >&2) || { rm -rf "$tmp"; die "downloading nix-bin $version from $suite failed"; }
  for p in "$tmp"/deb/*.deb; do dpkg -x "$p" "$tmp/prefix"; done
  # The prefix's own loader and libraries; Nix 2.8's own libraries sit in usr/lib/nix.
  # (Bookworm's libc6 still ships in /lib, trixie's in /usr/lib.)
  local lib="$dest/prefix/usr/lib/x86_64-linux-gnu" ld
  ld=$(cd "$tmp/prefix" && find lib usr/lib -name ld-linux-x86-64.so.2 2>/dev/null | head -n 1)
  [ -n "$ld" ] || { rm -rf "$tmp"; die "nix-bin $version ($suite): no loader among its libraries"; }
  patchelf --set-interpreter "$dest/prefix/$ld" --force-rpath \
    --set-rpath "$lib:$dest/prefix/lib/x86_64-linux-gnu:$dest/prefix/usr/lib/nix" "$tmp/prefix/usr/bin/nix"
  # Nix 2.8's own libraries carry a RUNPATH, under which the binary's RPATH no longer serves
  # their dependencies: they get the same RPATH.
  for p in "$tmp"/prefix/usr/lib/nix/*.so; do
    [ -f "$p" ] && patchelf --force-rpath --set-rpath "$lib:$dest/prefix/lib/x86_64-linux-gnu:$dest/prefix/usr/lib/nix" "$p"
  done
  rm -rf "$tmp/deb" "$dest"
  mkdir -p "$dest"
  mv "$tmp/prefix" "$dest/prefix"
  rmdir "$tmp"
  echo "$version" >"$dest/version"
  echo "$version"
}

# Installs (once) and links the dev Nix, and an old one for the tests of the minimum version.
install_dev_nix() {
  local dest="$CACHE/nix/$NIX_SUITE" version got
  version=$(unpack_nix "$NIX_SUITE" "$dest")
  dpkg --compare-versions "$version" ge "$NIX_MIN_DEBIAN_UPSTREAM" || die "Debian $NIX_SUITE serves nix-bin $version, older than $NIX_MIN_DEBIAN_UPSTREAM"
  got=$("$dest/prefix/usr/bin/nix" --version 2>&1) || die "the dev Nix does not run: $got"
  # shellcheck disable=SC2034 # read by the script that sources this file
  DEV_NIX_VERSION=${got##* }
  local bin="$REPO/.layerstack/nix/bin"
  mkdir -p "$bin"
  for p in "$dest"/prefix/usr/bin/nix*; do ln -sfn "$p" "$bin/${p##*/}"; done
  # Bookworm's Nix 2.8, older than any nixpkgs accepts: lib/nixCli.test.ts and test/e2e/badconfig.test.ts put it
  # first on PATH and expects the stack to refuse it. It never touches a store there.
  unpack_nix "$NIX_OLD_SUITE" "$CACHE/nix/$NIX_OLD_SUITE" >/dev/null
  ln -sfn "$CACHE/nix/$NIX_OLD_SUITE/prefix/usr/bin" "$REPO/.layerstack/nix/old-bin"
}
