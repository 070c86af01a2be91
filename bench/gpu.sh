#!/usr/bin/env bash
# The GPU benchmark, in one run on a GPU machine (../shared/GPU.md): W3 fp32 matmul on rmad's
# WebGPU backend, then the same on PyTorch (cuBLAS, TF32 off) when `import torch` works there,
# so that every figure has its baseline from the same run on the same card.
#
# Here, once:   bash bench/gpu.sh prepare
#   builds dist/ (compiler and bundles), fills .gpu/ with ../shared/gpu/prepare.sh (Vulkan loader, node, dawn.node) and
#   stages the webgpu package's JavaScript (not its 130 MB of per-platform binaries) in
#   .gpu/modules, so node_modules need not travel.
# Device run:   carry [".gpu", "dist"], command "bash bench/gpu.sh"  (results: $OUT/gpu.jsonl)
# Here, on llvmpipe:  SIZES=128,256 QUICK=1 bash bench/gpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = prepare ]; then
  npx tsc -p tsconfig.json >/dev/null || true # other files' type errors do not stop the emit
  node scripts/bundle.mjs # bin/rmad runs the command line's bundle
  [ -f dist/bench/gpu-bench.js ] || { echo "gpu.sh: dist/bench/gpu-bench.js was not built" >&2; exit 1; }
  bash ../shared/gpu/prepare.sh
  rm -rf .gpu/modules && mkdir -p .gpu/modules/webgpu
  (cd node_modules/webgpu && cp -r package.json index.js LICENSE.md ../../.gpu/modules/webgpu/)
  # The command line's own dependencies travel too (small), without the compiler and test tools.
  rm -rf .gpu/node_modules && mkdir -p .gpu/node_modules
  for dep in yargs yaml csv-parse cli-progress; do
    npm ls --parseable --all --omit=dev "$dep" 2>/dev/null | grep node_modules | while read -r dir; do
      rel=${dir#"$PWD/node_modules/"}
      mkdir -p ".gpu/node_modules/$(dirname "$rel")" && cp -r "$dir" ".gpu/node_modules/$rel"
    done
  done
  du -sh .gpu dist
  exit 0
fi

# shellcheck disable=SC1091
[ -f .gpu/enter.sh ] && source .gpu/enter.sh
# Without node_modules on the trip, the staged package goes where Node resolves it; enter.sh
# has already put dawn.node under node_modules/webgpu/dist.
if [ ! -f node_modules/webgpu/index.js ] && [ -d .gpu/modules/webgpu ]; then
  mkdir -p node_modules && cp -rn .gpu/modules/webgpu node_modules/
fi
[ -d .gpu/node_modules ] && mkdir -p node_modules && cp -rn .gpu/node_modules/. node_modules/
out=${OUT:-/tmp}/gpu.jsonl
sizes=${SIZES:-1024,2048,4096}
: > "$out"
batch=${BATCH:-4096}
node dist/bench/gpu-bench.js --sizes "$sizes" ${QUICK:+--quick} | tee -a "$out"
node dist/bench/gpu-w4.js --batch "$batch" ${QUICK:+--quick} | tee -a "$out"
# The command a user types, end to end on the GPU.
node bin/rmad train models/digits.yaml --device gpu --json --out "${OUT:-/tmp}/digits-gpu" ${QUICK:+--set train.epochs=2} |
  tail -n 1 | tee -a "$out"

if ! python3 -c 'import torch' 2>/dev/null; then
  echo '{"workload":"W3","peer":"pytorch","param":null,"metric":"gflops","value":null,"ok":false,"info":{"skipped":"python3 cannot import torch on this machine"}}' | tee -a "$out"
  exit 0
fi
BATCH=$batch QUICK=${QUICK:-} python3 - <<'PY' | tee -a "$out"
# W4's step in PyTorch at the same batch (torch.optim.Adam, cross entropy, loss read each step).
import json, os, statistics, time
import torch
cuda = torch.cuda.is_available()
dev = torch.device("cuda" if cuda else "cpu")
torch.backends.cuda.matmul.allow_tf32 = False
b = int(os.environ["BATCH"])
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)).to(dev)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
X = torch.rand(b, 784, device=dev); y = torch.randint(0, 10, (b,), device=dev)
def step():
    opt.zero_grad(); loss = torch.nn.functional.cross_entropy(model(X), y); loss.backward(); opt.step(); return loss.item()
for _ in range(3): step()
t = time.perf_counter(); step(); one = (time.perf_counter() - t) * 1e3
iters = max(1, round(50 / max(one, 1e-3))); samples = []
for _ in range(3 if os.environ.get("QUICK") else 7):
    t = time.perf_counter()
    for _ in range(iters): step()
    samples.append((time.perf_counter() - t) * 1e3 / iters)
print(json.dumps({"workload": "W4", "peer": "pytorch-cuda" if cuda else "pytorch-cpu", "param": f"784-256-128-10,b{b}", "metric": "ms_per_step",
                  "value": round(statistics.median(samples), 4), "ok": True,
                  "info": {"device": torch.cuda.get_device_name(0) if cuda else "cpu", "torch": torch.__version__, "iters": iters}}), flush=True)
PY
SIZES=$sizes QUICK=${QUICK:-} python3 - <<'PY' | tee -a "$out"
# W3 on PyTorch with W3's data, timing and check, as gpu-bench.ts does it.
import json, os, statistics, time
import torch

def xorshift32(seed):
    x = (seed * 0x9E3779B9) % 2**32 or 1
    while True:
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        yield x

def measure(run, quick):
    run(2)
    t = time.perf_counter(); run(1); one = max(time.perf_counter() - t, 1e-6) * 1e3
    iters = max(1, round(100 / one))
    samples, cap = (3, 2000) if quick else (7, 12000)
    if samples * iters * one > cap:
        samples = max(3, int(cap // (iters * one)))
    out = []
    for _ in range(samples):
        t = time.perf_counter(); run(iters); out.append((time.perf_counter() - t) * 1e3 / iters)
    return out, iters

quick = bool(os.environ.get("QUICK"))
cuda = torch.cuda.is_available()
dev = torch.device("cuda" if cuda else "cpu")
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
name = torch.cuda.get_device_name(0) if cuda else "cpu (no CUDA)"
sync = torch.cuda.synchronize if cuda else (lambda: None)
for n in map(int, os.environ["SIZES"].split(",")):
    i = torch.arange(n, dtype=torch.float64).reshape(n, 1)
    j = torch.arange(n, dtype=torch.float64).reshape(1, n)
    a64 = ((7 * i + 3 * j) % 17 - 8) / 8
    b64 = ((5 * i + 11 * j) % 13 - 6) / 4
    A, B = a64.float().to(dev), b64.float().to(dev)
    last = {}
    def with_read(k):
        for _ in range(k):
            last["c"] = (A @ B).cpu()
    def on_device(k):
        for _ in range(k):
            C = A @ B
        sync()
    r1 = measure(with_read, quick)
    rng = xorshift32(1234 + n)
    ok = True
    for _ in range(64):
        p, q = next(rng) % n, next(rng) % n
        if float(last["c"][p, q]) != float(a64[p] @ b64[:, q]):
            ok = False
    r2 = measure(on_device, quick)
    for metric, (samples, iters) in (("gflops", r1), ("gflops_device", r2)):
        ms = statistics.median(samples)
        print(json.dumps({"workload": "W3", "peer": "pytorch-cuda" if cuda else "pytorch-cpu", "param": n, "metric": metric,
                          "value": round(2 * n**3 / (ms * 1e6), 2), "ok": ok,
                          "info": {"device": name, "torch": torch.__version__, "ms_per_call": round(ms, 4), "samples": len(samples),
                                   "iters": iters, "readback": metric == "gflops", "tf32": False}}), flush=True)
PY
