#!/usr/bin/env bash
# Installs the Debian packages restpg builds, tests and runs with. Idempotent: apt-get only
# installs what is missing. Run as root (or with sudo available).
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config git
  libopenmpi-dev openmpi-bin
  libhdf5-dev hdf5-tools
  libopenblas-dev
  libcjson-dev libyaml-dev libpcre2-dev liblz4-dev libutf8proc-dev
  wordnet wordnet-base wordnet-dev
  gnuplot-nox
  python3 python3-h5py python3-numpy python3-nltk python3-torch python3-venv
  slurm-wlm munge
  clang libclang-rt-14-dev libomp-dev # the fuzz build: libFuzzer, sanitizer runtimes, clang's OpenMP
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

# The apt lists also feed `restpg data debian`, so refresh them when they are absent.
lists_present=$(ls /var/lib/apt/lists/*_Packages* 2>/dev/null | head -n 1 || true)
if [ ${#missing[@]} -eq 0 ] && [ -n "$lists_present" ] && ls /var/lib/apt/lists/*Translation-en* >/dev/null 2>&1; then
  echo "setup: all packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# English descriptions (Translation-en) are what the Debian dataset's long descriptions come from.
$SUDO apt-get update -o Acquire::Languages=en
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
