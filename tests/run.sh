#!/usr/bin/env bash
# Runs every test of `make check` and ends with one line: `N passed, N failed, N skipped`.
#
# Test suites and how they count:
#   man pages   one test per page: `groff -man -ww -z` must print nothing; one per generated table
#   specs       one test per check of tests/tools/check_docs.sh (the documents list the code's
#               names; tests/README.md says where each product file without a unit test of its
#               own is tested)
#   unit        Catch2 (build/unit_tests): one test per test case
#   integration tests/integration/*.sh: each prints `PASS: name`, `FAIL: name: why` or
#               `SKIP: name: why` lines; a script that exits non-zero without a FAIL line
#               counts as one failure. They need root and /dev/fuse (CI is root); without
#               them they are skipped, never silently passed.
set -u
cd "$(dirname "$0")/.." || exit 1
passed=0 failed=0 skipped=0
failures=()
log_dir=build/test-logs
rm -rf "$log_dir" && mkdir -p "$log_dir"

count() {  # count RESULT NAME [WHY]
  case "$1" in
    PASS) passed=$((passed + 1)) ;;
    FAIL) failed=$((failed + 1)); failures+=("$2${3:+: $3}") ;;
    SKIP) skipped=$((skipped + 1)) ;;
  esac
}

echo "== man pages"
for page in man/*.[0-9]; do
  out=$(groff -man -ww -z "$page" 2>&1)
  if [ -z "$out" ]; then echo "PASS: groff $page"; count PASS "$page"
  else echo "FAIL: groff $page: $out"; count FAIL "groff $page" "$out"; fi
done

# A man page's generated table must be the code's: check_table PAGE TABLE TOOL WHAT SOURCE compares
# the region of PAGE between `.\" BEGIN TABLE` and `.\" END TABLE` with the output of TOOL.
check_table() {
  local page=$1 table=$2 tool=$3 what=$4 source=$5 region
  region=$(sed -n "/^\\.\\\\\" BEGIN $table/,/^\\.\\\\\" END $table/p" "$page" | sed '1d;$d')
  if [ -n "$region" ] && [ "$region" = "$("$tool")" ]; then
    echo "PASS: $what matches $source"; count PASS "$table"
  else
    echo "FAIL: $what differs from $source (regenerate: replace the lines between the BEGIN $table and" \
      "END $table comments of $page with the output of $tool)"
    count FAIL "$table" "man page and code differ"
  fi
}
check_table man/pairctl.8 pair_table build/tools/pair_table "pairctl(8) status transition table" node/pair_state.cc
check_table man/clusterd.8 cluster_table build/tools/cluster_table "clusterd(8) state transition table" \
  clusterd/cluster_state.cc

# The specifications must list what the code has: message types and body fields in
# wire/protocol.md, metadata and record keys in node/FORMAT.md, and tests/README.md where each
# product file without a unit test of its own is tested (tests/tools/check_docs.sh prints one PASS
# or FAIL line per check; a run that prints none counts as one failure).
echo "== specifications"
saw_line=no
while IFS= read -r line; do
  case "$line" in
    PASS:*) count PASS "${line#PASS: }"; echo "$line"; saw_line=yes ;;
    FAIL:*) count FAIL "specs" "${line#FAIL: }"; echo "$line"; saw_line=yes ;;
  esac
done < <(tests/tools/check_docs.sh build/tools/doc_names 2>&1)
[ $saw_line = yes ] || { echo "FAIL: specs: tests/tools/check_docs.sh printed no result"; count FAIL "specs" "no result"; }

echo "== unit tests"
build/unit_tests > "$log_dir/unit.log" 2>&1
unit_rc=$?
summary=$(grep -E '^(All tests passed|test cases:)' "$log_dir/unit.log" | tail -1)
echo "$summary"
if [[ "$summary" =~ All\ tests\ passed\ \(([0-9]+)\ assertions?\ in\ ([0-9]+)\ test\ cases?\) ]]; then
  passed=$((passed + BASH_REMATCH[2]))
elif [[ "$summary" =~ test\ cases:\ +([0-9]+)\ \|\ +([0-9]+)\ passed\ \|\ +([0-9]+)\ failed ]]; then
  passed=$((passed + BASH_REMATCH[2])); failed=$((failed + BASH_REMATCH[3]))
  cat "$log_dir/unit.log"
  failures+=("unit: ${BASH_REMATCH[3]} test case(s), see $log_dir/unit.log")
else
  count FAIL "unit" "no Catch2 summary (exit $unit_rc), see $log_dir/unit.log"
fi

echo "== integration tests"
can_mount=yes
[ "$(id -u)" -eq 0 ] || can_mount="not root"
[ -c /dev/fuse ] || can_mount="no /dev/fuse"
# The interpreter behind `python3`, resolved once for every script (tests/integration/lib.sh: a
# version manager's shim, such as pyenv's, costs about 0.6 s of CPU per call).
PAIRFS_TEST_PYTHON3=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) && export PAIRFS_TEST_PYTHON3
for script in tests/integration/*.sh; do
  [ "$(basename "$script")" = lib.sh ] && continue
  name=$(basename "$script" .sh)
  if [ "$can_mount" != yes ]; then
    echo "SKIP: $name: $can_mount"; count SKIP "$name"; continue
  fi
  start=$(date +%s)
  bash "$script" > "$log_dir/$name.log" 2>&1
  rc=$?
  saw_fail=no
  while IFS= read -r line; do
    case "$line" in
      PASS:*) count PASS "${line#PASS: }"; echo "$line" ;;
      SKIP:*) count SKIP "${line#SKIP: }"; echo "$line" ;;
      FAIL:*) count FAIL "$name" "${line#FAIL: }"; echo "$line"; saw_fail=yes ;;
    esac
  done < <(grep -E '^(PASS|FAIL|SKIP): ' "$log_dir/$name.log")
  if [ $rc -ne 0 ] && [ $saw_fail = no ]; then
    echo "FAIL: $name: exited $rc (see $log_dir/$name.log)"; count FAIL "$name" "exited $rc"
  fi
  echo "   ($name: $(( $(date +%s) - start )) s, log $log_dir/$name.log)"
done

if [ ${#failures[@]} -gt 0 ]; then
  echo "== failures"
  printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
