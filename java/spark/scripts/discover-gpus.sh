#!/usr/bin/env bash
# discover-gpus.sh: Spark's resource discovery script for NVIDIA GPUs (docs/SPARK.md).
#
# Prints one line, {"name":"gpu","addresses":["0","1",...]}: the index of every GPU that
# `nvidia-smi --query-gpu=index --format=csv,noheader` lists. On a standalone cluster give it to the
# workers (spark.worker.resource.gpu.discoveryScript, with spark.worker.resource.gpu.amount); the
# workers hand the addresses to executors and Spark to tasks, and each task passes its address to
# the engine as the CUDA device ordinal. nvidia-smi numbers GPUs in PCI bus order: run executors
# with CUDA_DEVICE_ORDER=PCI_BUS_ID so that CUDA numbers them the same way.
#
# Exits non-zero with one line on stderr, so the worker refuses to start rather than advertise
# GPUs it does not have, when nvidia-smi is missing or fails (no driver) or lists no GPU.
# Spark's example script (getGpusResources.sh) prints an empty address for those.
set -euo pipefail

name=gpu
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "discover-gpus: nvidia-smi is not on the PATH: install the NVIDIA driver on this worker," \
    "or configure no GPU resource for it" >&2
  exit 1
fi
if ! out=$(nvidia-smi --query-gpu=index --format=csv,noheader 2>&1); then
  echo "discover-gpus: nvidia-smi failed: $(echo "$out" | head -n 1)" >&2
  exit 1
fi

addresses=""
while IFS= read -r line; do
  line=${line//[[:space:]]/}
  [[ -z "$line" ]] && continue
  if [[ ! "$line" =~ ^[0-9]+$ ]]; then
    echo "discover-gpus: nvidia-smi printed '$line' where a GPU index was expected" >&2
    exit 1
  fi
  addresses+="${addresses:+,}\"$line\""
done <<<"$out"

if [[ -z "$addresses" ]]; then
  echo "discover-gpus: nvidia-smi lists no GPU on this worker" >&2
  exit 1
fi
echo "{\"name\":\"$name\",\"addresses\":[$addresses]}"
