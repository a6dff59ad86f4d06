#!/usr/bin/env bash
# Checks that the specifications list what the code has, both ways: every name the code's own
# tables give (build/tools/doc_names, from tests/tools/doc_names.cc) is in its document, and every
# name the document lists is one the code has; and that tests/README.md says where each product
# file without a unit test of its name is tested. Prints one `PASS: ...` or `FAIL: ...` line per
# check, as the integration scripts do (tests/run.sh counts them), and exits 1 if any failed.
#
#   message types     wire/protocol.md "## Message types": a row `| NUMBER | NAME |` per type
#   body fields       wire/protocol.md: under a heading `### STRUCT`, a row `| \`KEY\` |` per key
#                     of each msgpack map body
#   metadata keys     node/FORMAT.md "## Volume metadata": a row `| \`KEY\` |` per key
#   record keys       node/FORMAT.md "## Witness reservation record": a row `| \`KEY\` |` per key
#   constants         each format's magic and version as its header table writes them
#   where tested      tests/README.md "## Where each file is tested": a row `| \`PATH\` |` per
#                     product file (node/ wire/ clusterd/ fuse/ pairctl/ *.cc, from git ls-files
#                     in a checkout, else the files there) with no tests/unit/FOLDER/NAME_test.cc; and
#                     every row's PATH is a file that exists
#
# Usage: tests/tools/check_docs.sh [DOC_NAMES_TOOL]   (from any directory; default build/tools/doc_names)
set -u
tool=${1:+$(realpath -m "$1")}  # a path given from the caller's directory
cd "$(dirname "$0")/../.." || exit 1
tool=${tool:-build/tools/doc_names}
protocol=wire/protocol.md
format=node/FORMAT.md
failed=0

if ! names=$("$tool" 2>&1); then
  echo "FAIL: specs: $tool did not run: $names"
  exit 1
fi

# section FILE LEVEL TITLE: the lines under the heading of LEVEL `#`s whose title starts with the
# word(s) TITLE, up to the next heading of that level or above.
section() {
  awk -v level="$2" -v title="$3" '
    function heading_level(line) { match(line, /^#+ /); return RLENGTH > 0 ? RLENGTH - 1 : 0 }
    {
      h = heading_level($0)
      if (inside && h > 0 && h <= level) inside = 0
      if (!inside && h == level) {
        rest = substr($0, level + 2)
        if (index(rest, title) == 1 && (length(rest) == length(title) || substr(rest, length(title) + 1, 1) ~ /[^A-Za-z0-9_]/)) {
          inside = 1; next
        }
      }
      if (inside) print
    }' "$1"
}

# The keys of a section's table rows `| `KEY` | ...`, one per line, sorted.
# shellcheck disable=SC2016  # the backquotes are markdown's, not the shell's
row_keys() { sed -n 's/^| *`\([A-Za-z0-9_]*\)` *|.*/\1/p' | sort -u; }

# report WHAT DOCUMENT MISSING EXTRA [VERB]: one PASS or FAIL line. MISSING: in the code, not in
# the document; EXTRA: in the document, not in the code.
report() {
  local what=$1 document=$2 missing=$3 extra=$4 verb=${5:-lists} why=""
  [ -n "$missing" ] && why="not in $document: $(echo "$missing" | paste -sd, | sed 's/,/, /g')"
  [ -n "$extra" ] && why="${why:+$why; }in $document but not in the code: $(echo "$extra" | paste -sd, | sed 's/,/, /g')"
  if [ -z "$why" ]; then
    echo "PASS: $document $verb $what"
  else
    echo "FAIL: $document does not match the code ($what): $why"
    failed=1
  fi
}

# 1. Message types: `NUMBER NAME` pairs of the code and of the table.
code_types=$(echo "$names" | awk '$1 == "message-type" { print $2 " " $3 }' | sort -u)
doc_types=$(section "$protocol" 2 "Message types" |
  sed -n 's/^| *\([0-9][0-9]*\) *| *\([a-z0-9-]*\) *|.*/\1 \2/p' | sort -u)
report "every message type of wire/message_type.h" "$protocol" \
  "$(comm -23 <(echo "$code_types") <(echo "$doc_types"))" "$(comm -13 <(echo "$code_types") <(echo "$doc_types"))"

# 2. Fields of the map bodies: each struct's keys against the rows under its `### STRUCT` heading.
missing_fields="" extra_fields=""
for body in $(echo "$names" | awk '$1 == "body" { print $2 }' | sort -u); do
  code_keys=$(echo "$names" | awk -v body="$body" '$1 == "body" && $2 == body { print $3 }' | sort -u)
  doc_keys=$(section "$protocol" 3 "$body" | row_keys)
  for key in $(comm -23 <(echo "$code_keys") <(echo "$doc_keys")); do missing_fields+="$body.$key"$'\n'; done
  for key in $(comm -13 <(echo "$code_keys") <(echo "$doc_keys")); do extra_fields+="$body.$key"$'\n'; done
done
report "every field of every map body (wire/messages.h, wire/peer_messages.h)" "$protocol" \
  "$(echo -n "$missing_fields")" "$(echo -n "$extra_fields")"

# 3 and 4. Keys of the durable files, from their encoders.
check_keys() {  # check_keys KIND TITLE WHAT
  local code_keys doc_keys
  code_keys=$(echo "$names" | awk -v kind="$1" '$1 == kind { print $2 }' | sort -u)
  doc_keys=$(section "$format" 2 "$2" | row_keys)
  report "$3" "$format" "$(comm -23 <(echo "$code_keys") <(echo "$doc_keys"))" \
    "$(comm -13 <(echo "$code_keys") <(echo "$doc_keys"))"
}
check_keys metadata-key "Volume metadata" "every volume metadata key (node/metadata.h)"
check_keys record-key "Witness reservation record" "every witness record key (node/witness_store.h)"

# 5. Magic numbers and versions: each `constant DOCUMENT TEXT` line's TEXT is in DOCUMENT.
missing_constants=""
while read -r _ document text; do
  grep -qF -- "$text" "$document" || missing_constants+="$document: $text"$'\n'
done < <(echo "$names" | grep '^constant ')
report "each format's magic and version as the code has them" "wire/protocol.md and node/FORMAT.md" \
  "$(echo -n "$missing_constants")" "" "give"

# 6. Where each product file is tested: a unit test of its own name, or a row `| \`PATH\` | ... |`
# of tests/README.md's table; and no row for a file that does not exist.
tests_readme=tests/README.md
product_files=""
if [ "$(git rev-parse --show-toplevel 2> /dev/null)" = "$(pwd -P)" ]; then
  product_files=$(git ls-files -- 'node/*.cc' 'wire/*.cc' 'clusterd/*.cc' 'fuse/*.cc' \
    'pairctl/*.cc')
fi
if [ -z "$product_files" ]; then  # no git checkout of its own (an unpacked archive): the files
  product_files=$(printf '%s\n' node/*.cc wire/*.cc clusterd/*.cc fuse/*.cc pairctl/*.cc)
fi
# shellcheck disable=SC2016  # the backquotes are markdown's, not the shell's
table_files=$(section "$tests_readme" 2 "Where each file is tested" |
  sed -n 's/^| *`\([^`]*\)` *|.*/\1/p' | sort -u)
untested="" unknown=""
for file in $product_files; do
  [ -f "$file" ] || continue  # deleted, not yet committed
  [ -f "tests/unit/$(dirname "$file")/$(basename "$file" .cc)_test.cc" ] && continue
  grep -qxF -- "$file" <<< "$table_files" || untested+="$file"$'\n'
done
for file in $table_files; do
  [ -f "$file" ] || unknown+="$file"$'\n'
done
report "where each product file without a tests/unit/FOLDER/NAME_test.cc is tested" "$tests_readme" \
  "$(echo -n "$untested")" "$(echo -n "$unknown")" "says"

exit $failed
