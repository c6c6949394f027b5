#!/usr/bin/env bash
# What each part of the static drainit costs, in bytes of its symbols
# (docs/benchmarks.md, "Size by dependency"): builds the shipped musl
# binary unstripped (same code, symbols kept) into target/size/ and sums
# `nm --size-sort` by crate. A generic function instantiated for another
# crate's type (`core::ptr::drop_in_place<clap_builder::...>`) counts for
# that crate. Read-only data (strings, tables) belongs to no symbol and is
# counted apart, as are the unwind tables.
#
#   scripts/size-by-crate.sh [BINARY]    BINARY: an unstripped build to read
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${1:-}
if [ -z "$bin" ]; then
  bin=$(CARGO_TARGET_DIR=target/size CARGO_PROFILE_RELEASE_STRIP=false scripts/build-static.sh)
fi

nm -S -t d --size-sort -C "$bin" | awk '
  function group(crate) {
    if (crate ~ /^(clap|clap_builder|clap_lex|anstyle)$/) return "clap (clap_builder, clap_lex, anstyle)"
    if (crate ~ /^(env_logger|env_filter|log)$/) return "env_logger, env_filter, log"
    if (crate ~ /^(gimli|addr2line|rustc_demangle|miniz_oxide|libunwind|object|backtrace)$/) \
      return "std: backtrace printing (gimli, addr2line, object, rustc_demangle, miniz_oxide, libunwind)"
    if (crate ~ /^(std|core|alloc)$/) return "std, core, alloc (the rest)"
    if (crate == "drainit") return "drainit"
    return crate
  }
  NF >= 4 {
    size = $2; name = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", name)
    crate = ""
    if (name ~ /std::backtrace/) crate = "backtrace"
    else if (name ~ /::/ || name ~ /^</) {
      # the crate of a generic argument, for std generics instantiated elsewhere
      if (match(name, /(clap_builder|clap_lex|anstyle|env_logger|env_filter|nix|httparse|drainit|gimli|addr2line|object|rustc_demangle|miniz_oxide|libunwind)::/)) {
        crate = substr(name, RSTART, RLENGTH - 2)
      } else if (match(name, /[a-z_][a-z0-9_]*::/)) {
        crate = substr(name, RSTART, RLENGTH - 2)
      }
    }
    if (crate == "") {
      if (name ~ /^(__lookup|__res_|__dns_|getaddrinfo|freeaddrinfo|__get_resolv_conf|name_from|__rtnetlink|__netlink|getnameinfo|__inet_aton|inet_aton|inet_pton|__ns_|dn_|is_valid_hostname|__lookup_ipliteral|policyof|scopeof|labelof|prefixmatch|addrcmp)/) \
        crate = "musl: name lookup (getaddrinfo)"
      else if (name ~ /^(printf_core|fmt_fp|vfprintf|fprintf|snprintf|vsnprintf|sn_write|pop_arg|fmt_[oux]|getint|out|pad|__stdio|__fwritex|fputs|fputc)/) \
        crate = "musl: printf"
      else crate = "musl, compiler builtins (the rest)"
      total[crate] += size; all += size; next
    }
    g = group(crate); total[g] += size; all += size
  }
  END {
    for (g in total) {
      if (total[g] >= 512) printf "%d\t%s\n", total[g], g
      else small += total[g]
    }
    printf "%d\t%s\n", small, "other (each under 0.5 KiB)"
    printf "%d\t%s\n", all, "all symbols"
  }' | sort -rn | awk -F'\t' '{ printf "| %s | %.1f |\n", $2, $1 / 1024 }'

# The sections: code (.text), read-only data, unwind tables.
size -A -d "$bin" | awk '$1 ~ /^\.(text|rodata|eh_frame|eh_frame_hdr|gcc_except_table|data)$/ {
  printf "| section %s | %.1f |\n", $1, $2 / 1024 }'
echo "unstripped: $bin" >&2
