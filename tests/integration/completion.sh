#!/usr/bin/env bash
# bash completion for pairctl (issue 15 part 5): scripts/completion/pairctl sourced in bash, its
# function called with COMP_WORDS as bash would, the candidates checked: commands, subcommands,
# options, option values, and volume names from a running node (none when it does not answer).
. "$(dirname "$0")/lib.sh"

# complete_words WORD...: the candidates for the last WORD (the one being typed), one line.
complete_words() {
  PATH="$ROOT/build:$PATH" bash -c '
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()
    _pairctl
    printf "%s\n" "${COMPREPLY[@]}" | LC_ALL=C sort | tr "\n" " " | sed "s/ $//"' _ "$ROOT/scripts/completion/pairctl" "$@"
}
expect_words() {  # expect_words NAME EXPECTED WORD...
  local name=$1 expected=$2 got; shift 2
  got=$(complete_words "$@")
  if [ "$got" = "$expected" ]; then pass "$name"; else fail "$name" "got '$got', expected '$expected'"; fi
}

check "the file registers the completion of pairctl" \
  bash -c "source '$ROOT/scripts/completion/pairctl' && complete -p pairctl | grep -q _pairctl"
expect_words "commands" "cluster create" pairctl c
expect_words "every command and global option" \
  "--config --help --json --site --version -c -h cluster create display dissolve events keygen release reserve resync split takeover verify volume wait" \
  pairctl ""
expect_words "events' option (ops, issue 15 part 1)" "--help --now" pairctl events -
expect_words "cluster subcommands" "status takeover unfence" pairctl cluster ""
expect_words "cluster takeover's option" "--force --help" pairctl cluster takeover -
expect_words "volume subcommands" "create delete list resize" pairctl volume ""
expect_words "takeover's options" "--force --group --help" pairctl takeover --
expect_words "--mode values" "async sync" pairctl create vm1 --mode ""
expect_words "--fence values" "data never reserve" pairctl create vm1 --fence ""
expect_words "--status values starting with P" "PAIR PFUL PFUS PSUE PSUS" pairctl wait vm1 --status P
expect_words "no volume names without a node" "" pairctl -c "$WORK/a.toml" takeover ""

write_config a
must_start a
require "volume create vm1" pairctl a volume create vm1 1M
require "volume create vm2" pairctl a volume create vm2 1M
require "volume create db" pairctl a volume create db 1M
expect_words "volume names from the node (-c CONFIG)" "db vm1 vm2" pairctl -c "$WORK/a.toml" takeover ""
expect_words "... with a prefix, after the global options" "vm1 vm2" pairctl --json -c "$WORK/a.toml" split v
expect_words "... for volume delete" "db vm1 vm2" pairctl -c "$WORK/a.toml" volume delete ""
expect_words "no name after the NAME" "" pairctl -c "$WORK/a.toml" volume resize vm1 ""
expect_words "no name after the pair's NAME" "" pairctl -c "$WORK/a.toml" resync vm1 ""
PAIRFS_CONFIG="$WORK/a.toml" expect_words "... from PAIRFS_CONFIG" "db vm1 vm2" pairctl verify ""
finish
