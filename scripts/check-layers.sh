#!/usr/bin/env bash
# The include layering of src/, written down once: each layer (a folder of src/, or a file at its top)
# and the layers it may include. An include outside this table (a back-edge such as dist -> train)
# fails with the file and the line. Part of `make check`.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A allowed=(
  [error.h]=""
  [compat.h]="error.h attention-explicit.h"
  [attention-explicit.h]=""
  [attention-explicit.cpp]="attention-explicit.h"
  [blas.h]=""
  [blas.cpp]="blas.h"
  [heap.h]=""
  [heap.cpp]="heap.h"
  [device.h]="error.h"
  [device.cpp]="device.h error.h"
  [io]="error.h"
  [tok]="error.h io"
  [config]="error.h io"
  [data]="error.h config io"
  [eval]="error.h io"
  [nn]="error.h compat.h io"
  [model]="error.h compat.h io nn tok"
  [optim]="error.h compat.h config io"
  [method]="error.h compat.h config data io model nn optim"
  [dist]="error.h compat.h io model optim"
  [train]="error.h compat.h device.h config data dist eval io method model nn optim tok"
  [cli]="error.h compat.h blas.h device.h heap.h config data dist eval io method model nn optim tok train"
)

layer_of() {  # src/model/llama.cpp -> model; src/device.cpp -> device.cpp; model/model.h -> model
  local path=${1#src/}
  if [[ $path == */* ]]; then echo "${path%%/*}"; else echo "$path"; fi
}

status=0
while IFS= read -r file; do
  from=$(layer_of "$file")
  if [[ -z ${allowed[$from]+set} ]]; then
    echo "$file: layer '$from' is not in scripts/check-layers.sh; add it with the layers it may include"
    status=1
    continue
  fi
  while IFS=: read -r line include; do
    to=$(layer_of "$include")
    [[ $to == "$from" ]] && continue
    if [[ " ${allowed[$from]} " != *" $to "* ]]; then
      echo "$file:$line: $from includes $include, but $from may include only: ${allowed[$from]:-nothing}"
      status=1
    fi
  done < <(grep -n '^#include "' "$file" | sed -E 's/^([0-9]+):#include "([^"]+)".*/\1:\2/')
done < <(find src -name '*.h' -o -name '*.cpp' | sort)

if [[ $status -eq 0 ]]; then echo "check-layers: every include of src/ follows the layering"; fi
exit $status
