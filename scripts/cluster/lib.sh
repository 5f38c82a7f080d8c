# shellcheck shell=bash
# Helpers shared by scripts/cluster/{net,up,down,check}.sh: logging, waiting, running a command
# in the cluster's "host" namespace, and starting/stopping a dockerd inside a network namespace.
# Sourced after env.sh; the caller sets CL_TAG (the log prefix).

CL_T0=${EPOCHREALTIME/[.,]/}
# elapsed seconds since CL_T0 (or since $1, a value of ${EPOCHREALTIME/[.,]/}) with one decimal
cl_elapsed() { local d=$(( ${EPOCHREALTIME/[.,]/} - ${1:-$CL_T0} )); printf '%d.%d' $((d / 1000000)) $((d / 100000 % 10)); }
# Progress goes to stderr, so `cl_run cmd >/dev/null` still shows the command.
cl_log() { printf '[%s %5ss] %s\n' "${CL_TAG:-cluster}" "$(cl_elapsed "$CL_T0")" "$*" >&2; }
cl_run() { cl_log "+ $*"; "$@"; }
cl_die() { printf '[%s] ERROR: %s\n' "${CL_TAG:-cluster}" "$*" >&2; exit 1; }
# cl_wait <seconds> <description> <command...>: poll every 0.2s; 0 when the command succeeded.
cl_wait() {
  local secs=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    if (( $(date +%s) >= deadline )); then return 1; fi
    sleep 0.2
  done
  cl_log "ready: $what"
}

# Run a command in the namespace that holds the bridge, the registry and the manager: the root
# namespace for CANARY_CLUSTER_MANAGER=main, netns ${prefix}-host for private.
cl_hostns() {
  if [[ -n "$CANARY_CLUSTER_HOST_NETNS" ]]; then
    nsenter --net="/run/netns/$CANARY_CLUSTER_HOST_NETNS" "$@"
  else
    "$@"
  fi
}
cl_ip() { ip ${CANARY_CLUSTER_HOST_NETNS:+-n "$CANARY_CLUSTER_HOST_NETNS"} "$@"; }

cl_mgr() { docker -H "$CANARY_MANAGER_DOCKER_HOST" "$@"; }
cl_wrk() { docker -H "$CANARY_WORKER_DOCKER_HOST" "$@"; }

# The command line of a pid contains an exact argument (how we tell our daemons from others
# before signalling them: pid files outlive processes and pids get reused).
# A process runs in the network namespace /run/netns/<name> (not in an older one of the same
# name, deleted by hand while the process kept it alive).
cl_pid_in_netns() { [[ "$(readlink "/proc/$1/ns/net" 2>/dev/null)" == "net:[$(stat -L -c %i "/run/netns/$2" 2>/dev/null)]" ]]; }
# A process exists and is not a zombie.
cl_pid_alive() { [[ -r /proc/$1/stat ]] && [[ "$(sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f1)" != Z ]]; }
cl_pid_has_arg() { [[ -r /proc/$1/cmdline ]] && tr '\0' '\n' <"/proc/$1/cmdline" | grep -qxF -- "$2"; }

# cl_dockerd_start <netns> <hostname> <dir> <socket-path> [env...]
# Starts a dockerd inside /run/netns/<netns> with everything of its own: data-root, exec-root,
# socket, pidfile, cgroup-parent, config file, and a UTS namespace whose hostname names the node
# (otherwise every node is called after this machine in `docker node ls`).
# `nsenter --net`, not `ip netns exec`: the latter also remounts /sys for the netns, and a
# dockerd started under it finds no cgroup hierarchy.
# No default bridge (docker0): swarm tasks do not use it. docker_gwbridge is created inside the
# netns, so its name and subnet cannot collide with the main engine's.
cl_dockerd_start() {
  local netns=$1 host=$2 dir=$3 sock=$4; shift 4
  local exec_root="/run/$host"   # short: containerd's socket path lives under it (108-byte limit)
  mkdir -p "$dir/docker" "$exec_root"
  # dockerd refuses to start while its pid file names a live process. Ours but not answering
  # (hung, or killed and not yet reaped): stop it and wait. Anything else: the file is stale.
  if [[ -s "$dir/dockerd.pid" ]]; then
    local old
    old=$(cat "$dir/dockerd.pid")
    if cl_pid_has_arg "$old" "$dir/daemon.json"; then
      cl_log "dockerd $host (pid $old) is running but not answering; stopping it"
      cl_stop_pid "$old" "dockerd $host" 30
    fi
    rm -f "$dir/dockerd.pid"
  fi
  # After a dockerd dies, its containerd gets SIGKILL (pdeathsig). PID 1 here reaps orphans
  # late, and dockerd takes the zombie named in containerd.pid for a live containerd: it dials
  # the dead socket for minutes. A pid file naming no live process goes.
  local cpid_file="$exec_root/containerd/containerd.pid" cpid
  if [[ -s "$cpid_file" ]]; then
    cpid=$(cat "$cpid_file")
    cl_pid_alive "$cpid" || { cl_log "removing stale $cpid_file (pid $cpid gone)"; rm -f "$cpid_file"; }
  fi
  cat >"$dir/daemon.json.tmp" <<EOF
{
  "data-root": "$dir/docker",
  "exec-root": "$exec_root",
  "pidfile": "$dir/dockerd.pid",
  "hosts": ["unix://$sock"],
  "cgroup-parent": "/$host",
  "bridge": "none",
  "insecure-registries": ["$CANARY_REGISTRY"],
  "log-level": "info"
}
EOF
  mv "$dir/daemon.json.tmp" "$dir/daemon.json"
  cl_log "+ nsenter --net=/run/netns/$netns unshare --uts dockerd --config-file $dir/daemon.json (hostname $host, log $dir/dockerd.log)"
  # 9>&-: do not hand the caller's lock fd to a daemon that outlives it.
  # shellcheck disable=SC2016  # $1 and $@ are the inner sh's
  env "$@" setsid nsenter --net="/run/netns/$netns" unshare --uts \
    sh -c 'hostname "$1" && shift && exec "$@"' sh "$host" \
    dockerd --config-file "$dir/daemon.json" >>"$dir/dockerd.log" 2>&1 </dev/null 9>&- &
  if ! cl_wait 60 "dockerd $host" docker -H "unix://$sock" info; then
    tail -n 30 "$dir/dockerd.log" >&2 || true
    cl_die "dockerd $host did not answer on $sock within 60s (log: $dir/dockerd.log)"
  fi
}

# Is the dockerd of <dir> running and ours? Prints its pid.
cl_dockerd_pid() {
  local dir=$1 pid
  [[ -s "$dir/dockerd.pid" ]] || return 1
  pid=$(cat "$dir/dockerd.pid")
  cl_pid_has_arg "$pid" "$dir/daemon.json" || return 1
  echo "$pid"
}

# cl_stop_pid <pid> <name> <seconds>: SIGTERM, wait, then SIGKILL.
cl_stop_pid() {
  local pid=$1 name=$2 secs=$3 i
  cl_log "+ kill $pid ($name)"
  kill "$pid" 2>/dev/null || return 0
  for ((i = 0; i < secs * 5; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
  cl_log "WARNING: $name (pid $pid) still running after ${secs}s; SIGKILL"
  kill -9 "$pid" 2>/dev/null || true
}

# cl_dockerd_remove <dir> <hostname>: stop the dockerd that cl_dockerd_start started with these
# arguments, then remove what it leaves behind: processes and directories in its cgroup-parent,
# mounts under its data-root and exec-root, and both directories.
cl_dockerd_remove() {
  local dir=$1 host=$2 pid c m
  if pid=$(cl_dockerd_pid "$dir"); then
    cl_stop_pid "$pid" "dockerd $host" 30
  fi
  # Only after a SIGKILL can container processes outlive dockerd; they sit in our cgroup-parent.
  for c in /sys/fs/cgroup/*/"$host"; do
    [[ -d "$c" ]] || continue
    while read -r pid; do
      if [[ -n "$pid" ]]; then kill -9 "$pid" 2>/dev/null || true; fi
    done < <(find "$c" -name cgroup.procs -exec cat {} + 2>/dev/null)
  done
  for c in /sys/fs/cgroup/*/"$host"; do
    [[ -d "$c" ]] || continue
    find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || cl_log "WARNING: could not remove cgroup $c"
  done
  # Deepest first; these are dockerd's own overlay and netns mounts, left only after a crash.
  while read -r m; do
    if [[ -n "$m" ]]; then umount -l "$m" 2>/dev/null || true; fi
  done < <(awk -v a="$dir/" -v b="/run/$host/" 'index($2, a) == 1 || index($2, b) == 1 { print $2 }' /proc/self/mounts | sort -r)
  rm -rf --one-file-system "$dir" "/run/$host"
}
