#!/bin/sh
# Prints the mybinder.org link that opens the tutorials of this clone, built from its git remote `origin`:
#
#   https://mybinder.org/v2/gh/<owner>/<repo>/HEAD?urlpath=lab/tree/notebooks/00_quickstart.ipynb
#
# (`HEAD` is the default branch.) `make binder-link` runs it; `sh binder/link.sh voila` prints the link of the
# quickstart as a Voila dashboard instead. origin may be any form git accepts for GitHub: https://github.com/o/r,
# git@github.com:o/r (scp-like), ssh://git@github.com/o/r, each with or without .git. Without an origin, or
# with one that is not on GitHub (mybinder.org's gh/ links need GitHub), it says so and exits with 1.
# tests/test_binder_link.py checks every form.
set -eu

case "${1:-lab}" in
  lab) urlpath="lab/tree/notebooks/00_quickstart.ipynb" ;;
  voila) urlpath="voila/render/notebooks/00_quickstart.ipynb" ;;
  *) echo "usage: sh binder/link.sh [lab|voila]" >&2; exit 2 ;;
esac

clone=$(cd "$(dirname "$0")/.." && pwd)
if ! origin=$(git -C "$clone" remote get-url origin 2>/dev/null); then
  echo "binder-link: this clone ($clone) has no git remote named origin. Binder builds from GitHub:" >&2
  echo "push the repository (or your fork) there, then: git remote add origin https://github.com/<owner>/<repo>" >&2
  exit 1
fi

# <owner>/<repo>, printed only when origin is on github.com (sed -n ... p prints only lines it rewrote)
slug=$(printf '%s\n' "$origin" |
  sed -E -n 's#^((https?|git|ssh)://([^/@]+@)?(www\.)?github\.com(:[0-9]+)?/|([^/@:]+@)?github\.com:/?)##p' |
  sed -E 's#/+$##; s#\.git$##')
if ! printf '%s\n' "$slug" | grep -Eq '^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$'; then
  shown=$(printf '%s\n' "$origin" | sed -E 's#//[^/@]+@#//#')   # without a user name or token
  echo "binder-link: origin is $shown, which is not a GitHub repository (github.com/<owner>/<repo>)." >&2
  echo "mybinder.org builds its gh/ links from GitHub: push the repository (or your fork) there and point" >&2
  echo "origin at it (git remote set-url origin https://github.com/<owner>/<repo>), or see binder/README.md." >&2
  exit 1
fi
echo "https://mybinder.org/v2/gh/$slug/HEAD?urlpath=$urlpath"
