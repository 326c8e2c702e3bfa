#!/usr/bin/env bash
# On a machine with a CUDA GPU: the CUDA tests, the CLI on the GPU path, then the benchmarks.
#   bash scripts/gpu_check.sh            (from the repository root, derivtrain installed)
#   PYTHON=python3.12 bash scripts/gpu_check.sh
# Prints everything; the tables go into README's Performance section with the machine named.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
$PY -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.__version__, torch.cuda.get_device_name(0))"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
runs=$(mktemp -d)

echo "== CUDA tests"
# every test that needs CUDA (they skip elsewhere): device residency, no per-step host syncs,
# bf16, compile, out-of-core rows, fused optimizers, sensitivity analysis, CPU/GPU agreement
$PY -m pytest -q -m cuda tests plugins -p no:cacheprovider || [ $? = 5 ]

echo "== the CLI on the GPU"
$PY -m derivtrain model=svm trainer.device=cuda logger=none hydra.run.dir="$runs/svm"
$PY -m derivtrain model=mlp data=digits trainer.device=cuda trainer.precision=bf16 logger=none \
    hydra.run.dir="$runs/mlp_bf16"
$PY -m derivtrain model=svm data=synthetic data.n_samples=1000000 data.n_features=100 trainer.device=cuda \
    trainer.batch_size=4096 trainer.shuffle=batches trainer.max_epochs=3 logger=none hydra.run.dir="$runs/svm_1m"
$PY -m derivtrain model=svm data=synthetic data.n_samples=1000000 data.n_features=100 trainer.device=cuda \
    trainer.batch_size=4096 trainer.cuda_graph=true trainer.max_epochs=3 logger=none hydra.run.dir="$runs/svm_1m_graph"

echo "== benchmarks on the GPU"
$PY scripts/bench_scale.py --device cuda --repeats 5
$PY scripts/bench_losses.py --device cuda
