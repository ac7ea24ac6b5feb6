#!/bin/sh
# Installs a harden release binary, and only after verifying it:
#   1. download SHA256SUMS and its Sigstore bundle SHA256SUMS.sigstore.json;
#   2. cosign verify-blob: the bundle must be a signature over SHA256SUMS by
#      harden's release workflow at the tag of that version (the identity and
#      issuer can be overridden for a private Sigstore);
#   3. download harden_<version>_<os>_<arch> and check it against its line in
#      the verified SHA256SUMS;
#   4. install it as DIR/harden: temporary file, chmod, rename.
# Anything that does not verify stops the script before DIR is touched.
#
# Usage: install.sh --version vX.Y.Z [options] [-- extra cosign verify-blob flags]
# Exit codes: 0 installed; 1 a check failed (signature, identity, checksum,
# a file missing from the release); 2 bad usage or a missing tool;
# 3 the release could not be downloaded.
set -eu

default_repo_url=https://github.com/harden-dev/harden
default_issuer=https://token.actions.githubusercontent.com

usage() {
	cat <<'EOF'
Usage: install.sh --version vX.Y.Z [options] [-- COSIGN_FLAGS...]

Downloads harden_<version>_<os>_<arch>, SHA256SUMS and
SHA256SUMS.sigstore.json, verifies the Sigstore signature over SHA256SUMS
with cosign, checks the binary's SHA-256 against it and installs it as
DIR/harden. Nothing is installed unless every check passes.

Options (each also read from the environment variable shown):
  --version V                  release tag to install, e.g. v0.1.0 (HARDEN_VERSION)
  --dir DIR                    install directory (HARDEN_INSTALL_DIR; default /usr/local/bin)
  --base-url URL               where the release files are (HARDEN_BASE_URL; default
                               https://github.com/harden-dev/harden/releases/download/<version>)
  --certificate-identity ID    signer the certificate must name (HARDEN_CERTIFICATE_IDENTITY;
                               default harden's release workflow at refs/tags/<version>)
  --certificate-oidc-issuer U  issuer the certificate must name (HARDEN_CERTIFICATE_OIDC_ISSUER;
                               default https://token.actions.githubusercontent.com)
  --trusted-root FILE          Sigstore trusted root for a private deployment (HARDEN_TRUSTED_ROOT;
                               default: public-good Sigstore through cosign's TUF client)
  -- FLAGS...                  passed to cosign verify-blob as they are (also
                               HARDEN_COSIGN_FLAGS, split on spaces)
  -h, --help                   this help

cosign v3 (https://docs.sigstore.dev/cosign/system_config/installation/)
must be on PATH, or named by $COSIGN.
EOF
}

say() { printf 'install.sh: %s\n' "$*" >&2; }
die() {
	code=$1
	shift
	say "$*"
	say "nothing was installed"
	exit "$code"
}

version=${HARDEN_VERSION:-}
dir=${HARDEN_INSTALL_DIR:-/usr/local/bin}
base_url=${HARDEN_BASE_URL:-}
identity=${HARDEN_CERTIFICATE_IDENTITY:-}
issuer=${HARDEN_CERTIFICATE_OIDC_ISSUER:-$default_issuer}
trusted_root=${HARDEN_TRUSTED_ROOT:-}
cosign=${COSIGN:-cosign}

# needs VALUE FLAG: a flag's value must be there.
needs() {
	if [ -z "$2" ]; then die 2 "$1 needs a value (see --help)"; fi
}

while [ "$#" -gt 0 ]; do
	case $1 in
	--version) needs "$1" "${2:-}"; version=$2; shift 2 ;;
	--version=*) version=${1#*=}; shift ;;
	--dir) needs "$1" "${2:-}"; dir=$2; shift 2 ;;
	--dir=*) dir=${1#*=}; shift ;;
	--base-url) needs "$1" "${2:-}"; base_url=$2; shift 2 ;;
	--base-url=*) base_url=${1#*=}; shift ;;
	--certificate-identity) needs "$1" "${2:-}"; identity=$2; shift 2 ;;
	--certificate-identity=*) identity=${1#*=}; shift ;;
	--certificate-oidc-issuer) needs "$1" "${2:-}"; issuer=$2; shift 2 ;;
	--certificate-oidc-issuer=*) issuer=${1#*=}; shift ;;
	--trusted-root) needs "$1" "${2:-}"; trusted_root=$2; shift 2 ;;
	--trusted-root=*) trusted_root=${1#*=}; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	*) die 2 "unknown argument $1 (see --help; cosign flags go after --)" ;;
	esac
done
# What is left in "$@" goes to cosign verify-blob.
if [ -n "${HARDEN_COSIGN_FLAGS:-}" ]; then
	# Deliberately split on whitespace: these are flags such as
	# --insecure-ignore-sct.
	# shellcheck disable=SC2086
	set -- $HARDEN_COSIGN_FLAGS "$@"
fi

[ -n "$version" ] || die 2 "--version is required: name a release tag such as v0.1.0 (never latest)"
# A release tag, never a branch or latest: the signing identity names it.
case $version in
v[0-9]*.[0-9]*.[0-9]*) ;;
*) die 2 "--version $version: name a release tag such as v0.1.0" ;;
esac
case $version in
*[!0-9A-Za-z.+-]*) die 2 "--version $version: a release tag has only letters, digits, '.', '-' and '+'" ;;
esac
[ -n "$base_url" ] || base_url=$default_repo_url/releases/download/$version
base_url=${base_url%/}
[ -n "$identity" ] || identity=$default_repo_url/.github/workflows/release.yml@refs/tags/$version
if [ -n "$trusted_root" ] && [ ! -r "$trusted_root" ]; then
	die 2 "--trusted-root $trusted_root: no such readable file"
fi

case $(uname -s) in
Linux) os=linux ;;
Darwin) os=darwin ;;
*) die 2 "no harden release for $(uname -s): releases are built for Linux and macOS" ;;
esac
case $(uname -m) in
x86_64 | amd64) arch=amd64 ;;
aarch64 | arm64) arch=arm64 ;;
*) die 2 "no harden release for $(uname -m): releases are built for amd64 and arm64" ;;
esac
asset=harden_${version}_${os}_${arch}

if ! command -v "$cosign" >/dev/null 2>&1; then
	die 2 "cosign not found (looked for '$cosign' on PATH); it verifies the release signature. Install cosign v3:
  GitHub Actions: sigstore/cosign-installer (or use harden's action.yml, which does);
  with Go:        go install github.com/sigstore/cosign/v3/cmd/cosign@v3.0.6;
  otherwise:      https://docs.sigstore.dev/cosign/system_config/installation/
then run this again, or set COSIGN to its path"
fi
if command -v sha256sum >/dev/null 2>&1; then
	sha256() { sha256sum "$1" | awk '{print $1}'; }
elif command -v shasum >/dev/null 2>&1; then
	sha256() { shasum -a 256 "$1" | awk '{print $1}'; }
else
	die 2 "neither sha256sum nor shasum is installed; install coreutils (or perl's shasum)"
fi
if command -v curl >/dev/null 2>&1; then
	downloader=curl
elif command -v wget >/dev/null 2>&1; then
	downloader=wget
else
	die 2 "neither curl nor wget is installed; install one of them"
fi

if [ -e "$dir" ] && { [ ! -d "$dir" ] || [ ! -w "$dir" ]; }; then
	die 2 "$dir is not a writable directory; run as a user who may write it, or choose another with --dir"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/harden-install.XXXXXX")
staged=
cleanup() {
	rm -rf "$work"
	if [ -n "$staged" ]; then rm -f "$staged"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# fetch NAME: download base_url/NAME into the work directory. A file the
# server does not have is a failed check (1); no answer at all is 3.
fetch() {
	url=$base_url/$1
	if [ "$downloader" = curl ]; then
		rc=0
		curl -fsSL --retry 3 -o "$work/$1" "$url" 2>"$work/err" || rc=$?
		[ "$rc" -eq 0 ] && return 0
		[ "$rc" -eq 22 ] && die 1 "$url: $(cat "$work/err"); the release has no $1 (is $version a harden release?)"
	else
		rc=0
		wget -q -O "$work/$1" "$url" 2>"$work/err" || rc=$?
		[ "$rc" -eq 0 ] && return 0
		[ "$rc" -eq 8 ] && die 1 "$url: the server refused it; the release has no $1 (is $version a harden release?)"
	fi
	die 3 "$url: download failed: $(cat "$work/err")"
}

fetch SHA256SUMS
fetch SHA256SUMS.sigstore.json

if [ -n "$trusted_root" ]; then
	set -- --trusted-root "$trusted_root" "$@"
fi
if ! "$cosign" verify-blob \
	--bundle "$work/SHA256SUMS.sigstore.json" \
	--certificate-identity "$identity" \
	--certificate-oidc-issuer "$issuer" \
	"$@" "$work/SHA256SUMS" >"$work/cosign.log" 2>&1; then
	sed 's/^/  cosign: /' "$work/cosign.log" >&2
	if grep -q 'integrated timestamps' "$work/cosign.log"; then
		# cosign v2 wants a log entry's integrated time, which Rekor v2
		# entries do not have; the bundle's RFC 3161 timestamp stands in.
		say "this cosign (v2) needs --use-signed-timestamps for a Rekor v2 entry: use cosign v3, or run again with: -- --use-signed-timestamps"
	fi
	die 1 "the signature over $base_url/SHA256SUMS does not verify for identity $identity, issuer $issuer"
fi

# The verified SHA256SUMS must hold exactly one well-formed line for the
# binary (sha256sum writes "HASH  NAME", or "HASH *NAME" in binary mode).
want=$(awk -v n="$asset" '$2 == n || $2 == "*" n { print $1 }' "$work/SHA256SUMS")
case $want in
"") die 1 "the signed SHA256SUMS has no line for $asset: this release has no binary for $os/$arch" ;;
*[!0-9a-f]*) die 1 "the signed SHA256SUMS has a malformed or repeated line for $asset" ;;
esac
[ "${#want}" -eq 64 ] || die 1 "the signed SHA256SUMS has a malformed line for $asset"

fetch "$asset"
got=$(sha256 "$work/$asset")
if [ "$got" != "$want" ]; then
	die 1 "$asset has SHA-256 $got, but the signed SHA256SUMS says $want: the download was altered"
fi

mkdir -p "$dir" 2>/dev/null || die 2 "cannot create $dir; choose another with --dir"
# Stage next to the destination, so the final rename is atomic.
staged=$(mktemp "$dir/.harden.XXXXXX")
cp "$work/$asset" "$staged"
chmod 0755 "$staged"
if ! "$staged" version >"$work/version" 2>&1; then
	sed 's/^/  /' "$work/version" >&2
	die 1 "the verified binary does not run here ($os/$arch)"
fi
mv -f "$staged" "$dir/harden"
staged=
say "installed $dir/harden ($(cat "$work/version"))"
say "verified: SHA256SUMS signed by $identity (issuer $issuer); $asset sha256:$got"
