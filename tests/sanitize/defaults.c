/*
 * defaults.c - sanitizer defaults compiled into every executable of the KILN_SANITIZE build.
 *
 * The runtimes call these hooks at start-up; $ASAN_OPTIONS, $UBSAN_OPTIONS and $LSAN_OPTIONS still
 * override them (ctest sets handle_segv=0 for the fiber guard-page test). Defaults live here rather
 * than in the environment because lit and the shell tests start kiln with a filtered environment.
 *
 * Leaks: LeakSanitizer stays on. Memory that LLVM, Lua or libffi keep until exit (LLVM's option
 * registry, target registries and ORC's per-process state) is suppressed by library; a leak whose
 * allocation stack runs through kiln's own code alone is still reported and fails the test.
 */
const char *__asan_default_options(void);
const char *__ubsan_default_options(void);
const char *__lsan_default_suppressions(void);

const char *__asan_default_options(void) { return "detect_leaks=1:abort_on_error=0:strict_string_checks=1"; }

const char *__ubsan_default_options(void) { return "print_stacktrace=1:halt_on_error=1"; }

const char *__lsan_default_suppressions(void) { return "leak:libLLVM\nleak:liblua\nleak:libffi\n"; }
