# Sourced by tests/sh/*.sh (`. tests/sh/lib/check.sh`; the tests run from the repository root):
# the result lines and the failure flag every test script shares.
#   ok NAME            prints "ok   NAME"
#   bad NAME           prints "FAIL NAME" and sets fail=1
#   expect NAME WANT-RC WANT-TEXT COMMAND...
#                      runs COMMAND: ok when it exits WANT-RC and its output holds WANT-TEXT
fail=0
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
