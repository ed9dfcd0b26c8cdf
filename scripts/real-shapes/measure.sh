# Sourced by run.sh and export.sh: time a command and the peak resident memory of its whole process tree (the CLI,
# Chromium and its GPU process: under SwiftShader GPU buffers live in host memory, so this is the GPU's memory too).
# RSS is summed over the process tree, so pages shared between them count more than once: an upper bound.
# Needs $work (a scratch folder): each command's stdout and stderr go to $work/<name>.out and .err.

tree_rss() { # KiB resident in a process and all its descendants (Chromium runs in its own process group)
  ps -eo pid=,ppid=,rss= | awk -v root="$1" '{ parent[$1] = $2; rss[$1] = $3 }
    END { for (p in rss) { q = p; while (q != "" && q != root && q in parent && q != 1) q = parent[q]; if (q == root) s += rss[p] } print s + 0 }'
}

measure() { # name, then the command; prints "name: seconds, peak MiB"
  local name=$1
  shift
  local start peak=0 rss pid
  start=$(date +%s.%N)
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    rss=$(tree_rss "$pid")
    ((rss > peak)) && peak=$rss
    sleep 0.5
  done
  wait "$pid" || { echo "$name failed:"; tail -5 "$work/$name.err"; exit 1; }
  printf '%-9s %7.1f s  peak RSS %6d MiB\n' "$name" "$(echo "$(date +%s.%N) - $start" | bc)" $((peak / 1024))
}
