#!/bin/sh
# kiln inspect and kiln compile --emit sass from the command line:
#   1. usage and input errors: exit 2 for usage, 1 for a bad setting, one line each;
#   2. without ptxas (KILN_PTXAS names a missing file): one line naming where it looked, exit 1;
#   3. with ptxas: the report's lines for recipes/matmul.lua on sm_90a and sm_80, registers as ptxas -v
#      itself reports them, and the occupancy line consistent with the limits printed;
#   4. without a disassembler (KILN_NVDISASM names a missing file): --emit sass fails in one line,
#      inspect prints the ptxas part and "sass: unavailable";
#      a disassembler that fails or prints nothing: one line naming it; a stand-in nvdisasm in a
#      $VIRTUAL_ENV's site-packages that prints tests/inspect/matmul_sm90a.sass: found, and the
#      fixture's loop reported (this runs without a real disassembler);
#   5. with one (nvdisasm or cuobjdump: kiln_sass_tool): --emit sass holds HMMA or HGMMA, inspect prints the
#      MMA loop and the non-MMA instructions per MMA.
# Parts 3 and 5 are skipped, said, when ptxas or the disassembler is not installed.
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
R=recipes/matmul.lua

one_line() { # one_line WANT_RC PATTERN COMMAND...: COMMAND exits WANT_RC with one line matching PATTERN
  want=$1 pat=$2; shift 2
  "$@" > "$tmp/out" 2>&1; rc=$?
  if [ $rc != "$want" ] || [ "$(grep -c . "$tmp/out")" != 1 ] || ! grep -q -- "$pat" "$tmp/out"; then
    echo "FAIL $*: want exit $want and one line matching '$pat', got exit $rc:"; head -n 5 "$tmp/out"; fail=1
  else
    echo "ok   $*: $(cat "$tmp/out")"
  fi
}

# 1. errors (the usage follows a usage error's line: only its first line is checked)
"$KILN" inspect --target sm_80 > "$tmp/out" 2>&1; rc=$?
{ [ $rc = 2 ] && head -n 1 "$tmp/out" | grep -q "^kiln inspect: no input"; } || { echo "FAIL no input: exit $rc"; cat "$tmp/out"; fail=1; }
"$KILN" inspect $R --bogus > "$tmp/out" 2>&1; rc=$?
{ [ $rc = 2 ] && head -n 1 "$tmp/out" | grep -q "unknown option --bogus"; } || { echo "FAIL --bogus: exit $rc"; fail=1; }
"$KILN" inspect --help > "$tmp/out" 2>&1 && head -n 1 "$tmp/out" | grep -q "^usage: kiln inspect" || { echo "FAIL --help"; fail=1; }
one_line 2 "unknown target 'sm_99'" "$KILN" inspect $R --target sm_99
one_line 1 "BLOCK_Q" "$KILN" inspect $R --target sm_80 --set BLOCK_Q=3
one_line 1 "cannot open recipes/none.lua" "$KILN" inspect recipes/none.lua --target sm_80
one_line 2 "kiln inspect: --samples goes with --model" "$KILN" inspect $R --target sm_80 --samples 3
for bad in 0 4097 x 2.5 ''; do
  one_line 2 "kiln inspect: --samples needs a whole number from 1 to 4096, got '$bad'" "$KILN" inspect $R --target sm_80 --model --samples "$bad"
done

# 1b. SASS compiled elsewhere: a .sass file needs no tool; a .cubin needs the disassembler
"$KILN" inspect tests/inspect/matmul_sm90a.sass > "$tmp/sf" 2>&1 || { echo "FAIL inspect FILE.sass"; cat "$tmp/sf"; fail=1; }
grep -q "^  non-MMA instructions per MMA: 19.62$" "$tmp/sf" || { echo "FAIL inspect FILE.sass: no 19.62"; cat "$tmp/sf"; fail=1; }
one_line 1 "cannot read $tmp/none.cubin" "$KILN" inspect "$tmp/none.cubin"
one_line 2 "is compiled already" "$KILN" inspect tests/inspect/matmul_sm90a.sass --target sm_80
printf 'not a cubin\n' > "$tmp/junk.cubin"
one_line 1 "no SASS disassembler: KILN_NVDISASM=$tmp/none" env KILN_NVDISASM="$tmp/none" "$KILN" inspect "$tmp/junk.cubin"
printf '#!/bin/sh\necho "bad object" >&2; exit 3\n' > "$tmp/dis"; chmod +x "$tmp/dis"
one_line 1 "^$tmp/junk.cubin: $tmp/dis failed (exit 3): bad object" env KILN_NVDISASM="$tmp/dis" "$KILN" inspect "$tmp/junk.cubin"
printf 'nothing\n' > "$tmp/empty.sass"
one_line 1 "^$tmp/empty.sass: no SASS instructions in the text" "$KILN" inspect "$tmp/empty.sass"

# 2. no ptxas
one_line 1 "ptxas not found (looked in KILN_PTXAS=$tmp/none" env KILN_PTXAS="$tmp/none" "$KILN" inspect $R --target sm_90a

if [ ! -x /usr/local/cuda/bin/ptxas ] && ! PATH=/usr/bin:/bin command -v ptxas > /dev/null; then
  one_line 1 "ptxas not found (looked on PATH and in /usr/local/cuda/bin; set KILN_PTXAS)" \
    env -u KILN_PTXAS PATH=/usr/bin:/bin "$KILN" inspect $R --target sm_90a
fi

PTXAS=$(command -v ptxas || { [ -x /usr/local/cuda/bin/ptxas ] && echo /usr/local/cuda/bin/ptxas; } || true)
if [ -z "$PTXAS" ]; then
  echo "skip: ptxas not installed: the ptxas and SASS parts of kiln inspect are not tested"
  exit $fail
fi

# 3. with ptxas
for t in sm_90a sm_80; do
  if ! "$KILN" inspect $R --target $t --no-sass > "$tmp/ins" 2>&1; then
    echo "FAIL inspect $t:"; cat "$tmp/ins"; fail=1; continue
  fi
  "$KILN" compile $R --target $t --emit ptx -o "$tmp/k.ptx" && "$PTXAS" -v -arch=$t "$tmp/k.ptx" -o "$tmp/k.o" > "$tmp/v" 2>&1
  regs=$(sed -n 's/.*Used \([0-9]*\) registers.*/\1/p' "$tmp/v")
  grep -q "^registers: $regs per thread$" "$tmp/ins" || { echo "FAIL $t: ptxas says $regs registers:"; cat "$tmp/ins"; fail=1; }
  grep -q "^stack: 0 bytes frame, 0 bytes spill stores, 0 bytes spill loads$" "$tmp/ins" || { echo "FAIL $t stack line"; fail=1; }
  dyn=$("$KILN" compile $R --target $t --emit launch | sed -n 's/.*"shared_bytes": \([0-9]*\).*/\1/p')
  grep -q "^shared memory: 0 bytes static + $dyn bytes dynamic = $dyn bytes per block (+1024 reserved)$" "$tmp/ins" ||
    { echo "FAIL $t shared line (dynamic $dyn)"; cat "$tmp/ins"; fail=1; }
  # the blocks line: the smallest of the four, named
  line=$(grep "^  blocks by registers" "$tmp/ins")
  min=$(echo "$line" | tr -c '0-9\n' ' ' | awk '{ m = $1; for (i = 2; i <= NF; i++) if ($i < m) m = $i; print m }')
  grep -q "^  $min blocks per SM, limited by " "$tmp/ins" || { echo "FAIL $t: smallest of '$line' is $min:"; cat "$tmp/ins"; fail=1; }
  grep -q "^sass: unavailable: not asked for$" "$tmp/ins" || { echo "FAIL $t --no-sass"; fail=1; }
  echo "ok   inspect $t: $(grep "blocks per SM" "$tmp/ins")"
done
"$KILN" inspect $R --target sm_90a --no-sass > "$tmp/ins"
grep -q "^occupancy (per SM: 65536 registers, 233472 bytes shared, 2048 threads, 32 blocks):$" "$tmp/ins" ||
  { echo "FAIL sm_90a limits:"; cat "$tmp/ins"; fail=1; }

# ptxas -v can print many informational lines before its figures (sm_90a: "(C7519) warpgroup.arrive
# is injected ..." one per wgmma): a ptxas that prints 200 of them still gives the register count
printf '#!/bin/sh\ni=0\nwhile [ $i -lt 200 ]; do echo "ptxas info    : (C7519) warpgroup.arrive is injected in around line $i by compiler to allow use of registers in GMMA in function k" >&2; i=$((i + 1)); done\nexec "%s" "$@"\n' "$PTXAS" > "$tmp/chatty"
chmod +x "$tmp/chatty"
if KILN_PTXAS="$tmp/chatty" "$KILN" inspect $R --target sm_90a --no-sass > "$tmp/ins" 2>&1 && grep -q "^registers: [0-9]* per thread$" "$tmp/ins"; then
  echo "ok   chatty ptxas: $(grep "^registers" "$tmp/ins")"
else
  echo "FAIL chatty ptxas:"; head -n 3 "$tmp/ins"; fail=1
fi

# 3b. the model: matmul at 256^3 with 64 x 64 tiles, 16 programs of 2 x 64 x 64 x 256 operations, 3 sampled
"$KILN" inspect $R --target sm_80 --no-sass --model --samples 3 --set BLOCK_M=64 --set BLOCK_N=64 --set warps=4 > "$tmp/model" 2>&1 || { echo "FAIL --model:"; cat "$tmp/model"; fail=1; }
for want in "^model (a model, not a measurement: A100 SXM4 80GB (108 SMs at 1.41 GHz, 2039 GB/s" \
    "^  work: 16 blocks, 3.355e+07 tensor ops (16-bit 3.355e+07, 8-bit 0, 1-bit 0; by wgmma 0)" \
    "^  estimate: [0-9.]* us, [a-zA-Z ]*-bound, [0-9.]* tensor TFLOP/s (model)$"; do
  grep -q -- "$want" "$tmp/model" || { echo "FAIL --model: no line matching '$want':"; cat "$tmp/model"; fail=1; }
done

# 4. no disassembler
one_line 1 "kiln compile: no SASS disassembler: KILN_NVDISASM=$tmp/none is not an executable" \
  env KILN_NVDISASM="$tmp/none" "$KILN" compile $R --target sm_90a --emit sass
if env KILN_NVDISASM="$tmp/none" "$KILN" inspect $R --target sm_90a > "$tmp/ins" 2>&1 &&
  grep -q "^sass: unavailable: no SASS disassembler" "$tmp/ins" && grep -q "^registers: " "$tmp/ins"; then
  echo "ok   inspect without a disassembler: $(grep "^sass" "$tmp/ins")"
else
  echo "FAIL inspect without a disassembler:"; cat "$tmp/ins"; fail=1
fi

# a disassembler that fails, or prints no instructions: one line naming it, exit 1
one_line 1 "^/bin/false failed (exit 1)$" env KILN_NVDISASM=/bin/false "$KILN" compile $R --target sm_90a --emit sass
one_line 1 "^/bin/false failed (exit 1)$" env KILN_NVDISASM=/bin/false "$KILN" inspect $R --target sm_90a
one_line 1 "^/bin/true printed no SASS instructions for the cubin" env KILN_NVDISASM=/bin/true "$KILN" inspect $R --target sm_90a

# the venv lookup, with a stand-in nvdisasm that prints the committed fixture (nvdisasm's output for
# this variant): kiln finds it under $VIRTUAL_ENV's site-packages and reports the fixture's loop
if [ -x /usr/local/cuda/bin/nvdisasm ] || [ -x /usr/local/cuda/bin/cuobjdump ]; then
  echo "skip: the venv lookup (a disassembler in /usr/local/cuda/bin comes first)"
else
  bin="$tmp/venv/lib/python3.11/site-packages/nvidia/cu13/bin"
  mkdir -p "$bin"
  printf '#!/bin/sh\ncat "%s/tests/inspect/matmul_sm90a.sass"\n' "$PWD" > "$bin/nvdisasm"
  chmod +x "$bin/nvdisasm"
  venv() { env -u KILN_NVDISASM PATH=/usr/bin:/bin VIRTUAL_ENV="$tmp/venv" "$@"; }
  if venv "$KILN" inspect $R --target sm_90a > "$tmp/ins" 2>&1 &&
    grep -q "^sass ($bin/nvdisasm): 1039 instructions, 16 MMA$" "$tmp/ins" &&
    grep -q "^  MMA loop /\*18b0\*/\.\./\*2d40\*/: 330 instructions per iteration: mma 16 " "$tmp/ins" &&
    grep -q "^  non-MMA instructions per MMA: 19.62$" "$tmp/ins"; then
    echo "ok   venv nvdisasm: $(grep "per MMA" "$tmp/ins")"
  else
    echo "FAIL venv nvdisasm:"; cat "$tmp/ins"; fail=1
  fi
  venv "$KILN" compile $R --target sm_90a --emit sass -o "$tmp/v.sass" && cmp -s "$tmp/v.sass" tests/inspect/matmul_sm90a.sass ||
    { echo "FAIL --emit sass through the venv nvdisasm"; fail=1; }
fi

# 5. with a disassembler
if "$KILN" compile $R --target sm_90a --emit sass -o "$tmp/k.sass" > "$tmp/out" 2>&1; then
  grep -q "HMMA\|HGMMA" "$tmp/k.sass" || { echo "FAIL --emit sass: no HMMA or HGMMA (sm_90a: matmul takes wgmma)"; fail=1; }
  "$KILN" inspect $R --target sm_90a > "$tmp/ins" 2>&1 || { echo "FAIL inspect with SASS:"; cat "$tmp/ins"; fail=1; }
  grep -q "^  MMA loop /\*[0-9a-f]*\*/\.\./\*[0-9a-f]*\*/: [0-9]* instructions per iteration: mma [1-9]" "$tmp/ins" &&
    grep -q "^  non-MMA instructions per MMA: [0-9.]*$" "$tmp/ins" || { echo "FAIL inspect SASS lines:"; cat "$tmp/ins"; fail=1; }
  echo "ok   sass: $(grep "per MMA" "$tmp/ins")"
elif grep -q "no SASS disassembler" "$tmp/out"; then
  echo "skip: $(cat "$tmp/out")"
else
  echo "FAIL --emit sass:"; cat "$tmp/out"; fail=1
fi
exit $fail
