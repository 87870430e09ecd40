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

# Installs (once) and links the dev Nix; prints nothing on a warm cache.
install_dev_nix() {
  local apt_dir="$CACHE/nix/apt" mirror version prefix tmp pkgs p
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  : >"$apt_dir/status"
  local apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/nonexistent
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "Dir::State::Status=$apt_dir/status"
    -o APT::Install-Recommends=false -o APT::Sandbox::User=root)
  local want="$CACHE/nix/current"
  if [ -f "$want" ] && [ -x "$CACHE/nix/$(cat "$want")/prefix/usr/bin/nix" ]; then
    version=$(cat "$want")
  else
    mirror=$(nix_mirror) || die "no Debian mirror in /etc/apt/sources.list*: the dev Nix comes from Debian's $NIX_SUITE suite"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $NIX_SUITE main" >"$apt_dir/sources.list"
    step "nix: reading Debian $NIX_SUITE's package lists"
    apt-get "${apt_opts[@]}" update -qq >&2 || die "apt-get update of $NIX_SUITE failed"
    version=$(apt-cache "${apt_opts[@]}" policy nix-bin | awk '/Candidate:/ { print $2 }')
    [ -n "$version" ] && [ "$version" != "(none)" ] || die "Debian $NIX_SUITE serves no nix-bin"
    dpkg --compare-versions "$version" ge "$NIX_MIN_DEBIAN_UPSTREAM" || die "Debian $NIX_SUITE serves nix-bin $version, older than $NIX_MIN_DEBIAN_UPSTREAM"
    prefix="$CACHE/nix/$version/prefix"
    if [ ! -x "$prefix/usr/bin/nix" ]; then
      step "nix: unpacking nix-bin $version and its libraries into $prefix"
      tmp="$CACHE/nix/.tmp.$$"
      rm -rf "$tmp"; mkdir -p "$tmp/deb" "$tmp/prefix"
      # What apt would install on an empty system, less what Nix's binary does not load
      # (perl and its modules serve only nix-bin's perl bindings; PAM, the shadow tools).
      pkgs=()
      while read -r p; do pkgs+=("$p"); done < <(apt-get "${apt_opts[@]}" -s install nix-bin 2>/dev/null \
        | awk '/^Inst / { print $2 }' | grep -E '^(lib|nix-bin$)' | grep -vE 'perl|^libpam|^libsemanage|^libaudit|^libdebconf|^libdb5')
      (cd "$tmp/deb" && apt-get -qq "${apt_opts[@]}" download "${pkgs[@]}" >&2) || { rm -rf "$tmp"; die "downloading nix-bin $version from $NIX_SUITE failed"; }
      for p in "$tmp"/deb/*.deb; do dpkg -x "$p" "$tmp/prefix"; done
      local lib="$prefix/usr/lib/x86_64-linux-gnu"
      patchelf --set-interpreter "$lib/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$lib" "$tmp/prefix/usr/bin/nix"
      rm -rf "$tmp/deb" "$CACHE/nix/$version"
      mkdir -p "$CACHE/nix/$version"
      mv "$tmp/prefix" "$prefix"
      rm -rf "$tmp"
    fi
    echo "$version" >"$want"
  fi
  prefix="$CACHE/nix/$version/prefix"
  local got
  got=$("$prefix/usr/bin/nix" --version 2>&1) || die "the dev Nix does not run: $got"
  DEV_NIX_VERSION=${got##* }
  local bin="$REPO/.layerstack/nix/bin"
  mkdir -p "$bin"
  for p in "$prefix"/usr/bin/nix*; do ln -sfn "$p" "$bin/${p##*/}"; done
  ln -sfn "$prefix/usr/libexec/nix" "$REPO/.layerstack/nix/libexec"
}
