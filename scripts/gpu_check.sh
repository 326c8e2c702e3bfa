#!/usr/bin/env bash
# On a machine with a CUDA GPU: the CUDA tests, then the benchmarks on the GPU path.
#   bash scripts/gpu_check.sh            (from the repository root, derivtrain installed)
# Prints everything; the tables go into README's Performance section with the machine named.
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
# every test that needs CUDA (they skip elsewhere), plus the loop on the GPU end to end
python -m pytest -q -m cuda tests plugins || [ $? = 5 ]
python -m derivtrain model=svm trainer.device=cuda logger=none hydra.run.dir="$(mktemp -d)/run"
python -m derivtrain model=mlp data=digits trainer.device=cuda trainer.precision=bf16 logger=none \
    hydra.run.dir="$(mktemp -d)/run"
python -m derivtrain model=svm data=synthetic data.n_samples=1000000 data.n_features=100 trainer.device=cuda \
    trainer.batch_size=4096 trainer.shuffle=batches trainer.max_epochs=3 logger=none hydra.run.dir="$(mktemp -d)/run"
python scripts/bench_losses.py || true   # prints its own device line
