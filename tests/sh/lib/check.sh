# Sourced by tests/sh/*.sh (`. tests/sh/lib/check.sh`; the tests run from the repository root):
# the result lines and the failure flag every test script shares.
#   ok NAME            prints "ok   NAME"
#   bad NAME           prints "FAIL NAME" and sets fail=1
#   expect NAME WANT-RC WANT-TEXT COMMAND...
#                      runs COMMAND: ok when it exits WANT-RC and its output holds WANT-TEXT
#   checks_pass RECIPE N TARGET...
#                      `kiln run RECIPE --sim --check-all` on each target: ok when it exits 0 with N
#                      PASS lines
fail=0
checks_pass() {
  r=$1 want=$2; shift 2
  for t in "$@"; do
    out=$("$KILN" run "$r" --sim --check-all --target "$t" 2>&1); rc=$?
    n=$(printf '%s\n' "$out" | grep -c ' PASS, ')
    if [ $rc -ne 0 ] || [ "$n" -ne "$want" ]; then bad "$r $t (exit $rc): $out"; else ok "$r $t: $n checks PASS"; fi
  done
}
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
expect() {
  name=$1 want_rc=$2 want=$3; shift 3
  out=$("$@" 2>&1); rc=$?
  case "$rc:$out" in
    "$want_rc:"*"$want"*) ok "$name" ;;
    *) bad "$name: exit $rc: $out" ;;
  esac
}
