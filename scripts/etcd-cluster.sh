#!/usr/bin/env bash
# A 3-member etcd cluster on 127.0.0.1 for the etcd store's tests, bench and
# tools. Installs etcd-server from Debian if missing; stops only the
# processes it started (by recorded PID).
#
#   scripts/etcd-cluster.sh start        start 3 members, wait until healthy
#   scripts/etcd-cluster.sh status       each member's client address and health
#   scripts/etcd-cluster.sh endpoints    the client addresses, comma-separated
#   scripts/etcd-cluster.sh kill N       SIGKILL member N (1, 2 or 3)
#   scripts/etcd-cluster.sh restart N    start member N again on its data
#   scripts/etcd-cluster.sh pause N      SIGSTOP member N (a member that stops answering)
#   scripts/etcd-cluster.sh resume N     SIGCONT member N
#   scripts/etcd-cluster.sh leader       the number of the member that leads now
#   scripts/etcd-cluster.sh tls          a TLS cluster's client flags for cafes-stress
#   scripts/etcd-cluster.sh stop         stop every member, remove the data
#
# Environment: CAFES_ETCD_DIR (state and data; default /tmp/cafes-etcd),
# CAFES_ETCD_PORT (first client port; default 23791: clients on P, P+1, P+2,
# peers on P+10, P+11, P+12), CAFES_ETCD_QUOTA_BYTES (etcd's
# --quota-backend-bytes; default 2 GiB, etcd's own), CAFES_ETCD_TLS=1 (at
# start: members serve clients and each other over TLS and take only clients
# with a certificate of the cluster's CA; start makes a test CA and
# certificates in $CAFES_ETCD_DIR/tls: ca.pem, member.pem/.key naming
# 127.0.0.1 and localhost, client.pem/.key; the other commands see that the
# cluster has TLS by that directory).
set -euo pipefail

dir="${CAFES_ETCD_DIR:-/tmp/cafes-etcd}"
base="${CAFES_ETCD_PORT:-23791}"
members=(1 2 3)

usage() {
  echo "usage: $0 start|status|endpoints|stop|leader|tls|kill N|restart N|pause N|resume N" >&2
  exit 2
}

tls_dir="$dir/tls"
tls_on() { [ -f "$tls_dir/ca.pem" ]; }
scheme() { if tls_on; then echo https; else echo http; fi; }

# Makes the test CA and the members' and client's certificates (once;
# valid for a year).
make_tls() {
  tls_on && return
  command -v openssl >/dev/null || { echo "error: CAFES_ETCD_TLS needs openssl" >&2; exit 1; }
  mkdir -p "$tls_dir"
  local log="$tls_dir/openssl.log" name
  ssl() {
    openssl "$@" >>"$log" 2>&1 \
      || { echo "error: openssl $1 failed making the test certificates (see $log)" >&2; exit 1; }
  }
  ssl req -x509 -newkey rsa:2048 -nodes -keyout "$tls_dir/ca.key" -out "$tls_dir/ca.pem.new" \
    -days 365 -subj "/CN=cafes etcd test CA"
  for name in member client; do
    ssl req -newkey rsa:2048 -nodes -keyout "$tls_dir/$name.key" -out "$tls_dir/$name.csr" \
      -subj "/CN=cafes etcd $name"
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' \
      >"$tls_dir/$name.ext"
    ssl x509 -req -in "$tls_dir/$name.csr" -CA "$tls_dir/ca.pem.new" -CAkey "$tls_dir/ca.key" \
      -CAcreateserial -out "$tls_dir/$name.pem" -days 365 -extfile "$tls_dir/$name.ext"
  done
  mv "$tls_dir/ca.pem.new" "$tls_dir/ca.pem" # last: its presence says the files are complete
}

# etcdctl, speaking TLS to a TLS cluster.
ctl() {
  if tls_on; then
    ETCDCTL_API=3 etcdctl --cacert "$tls_dir/ca.pem" --cert "$tls_dir/client.pem" \
      --key "$tls_dir/client.key" "$@"
  else
    ETCDCTL_API=3 etcdctl "$@"
  fi
}

client_port() { echo $((base + $1 - 1)); }
peer_port() { echo $((base + 10 + $1 - 1)); }
endpoints() {
  local out=()
  for n in "${members[@]}"; do out+=("127.0.0.1:$(client_port "$n")"); done
  (IFS=,; echo "${out[*]}")
}
initial_cluster() {
  local out=()
  for n in "${members[@]}"; do out+=("e$n=$(scheme)://127.0.0.1:$(peer_port "$n")"); done
  (IFS=,; echo "${out[*]}")
}

install_etcd() {
  command -v etcd >/dev/null && command -v etcdctl >/dev/null && return
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing etcd-server and etcd-client" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    etcd-server etcd-client >/dev/null
}

# Whether member N's recorded process runs (and is an etcd we started).
running() {
  local pidfile="$dir/e$1.pid"
  [ -f "$pidfile" ] || return 1
  local pid
  pid="$(cat "$pidfile")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
    && grep -q etcd "/proc/$pid/cmdline" 2>/dev/null
}

start_member() { # N new|existing
  local n="$1" state="$2"
  running "$n" && return
  mkdir -p "$dir"
  local tls=() s
  s="$(scheme)"
  if tls_on; then
    tls=(--cert-file "$tls_dir/member.pem" --key-file "$tls_dir/member.key"
      --trusted-ca-file "$tls_dir/ca.pem" --client-cert-auth
      --peer-cert-file "$tls_dir/member.pem" --peer-key-file "$tls_dir/member.key"
      --peer-trusted-ca-file "$tls_dir/ca.pem" --peer-client-cert-auth)
  fi
  etcd --name "e$n" --data-dir "$dir/e$n" "${tls[@]}" \
    --listen-client-urls "$s://127.0.0.1:$(client_port "$n")" \
    --advertise-client-urls "$s://127.0.0.1:$(client_port "$n")" \
    --listen-peer-urls "$s://127.0.0.1:$(peer_port "$n")" \
    --initial-advertise-peer-urls "$s://127.0.0.1:$(peer_port "$n")" \
    --initial-cluster "$(initial_cluster)" --initial-cluster-state "$state" \
    --initial-cluster-token cafes-test --logger zap --log-outputs "$dir/e$n.log" \
    --quota-backend-bytes "${CAFES_ETCD_QUOTA_BYTES:-2147483648}" \
    </dev/null >/dev/null 2>&1 &
  echo $! >"$dir/e$n.pid"
}

# Waits up to 30 s until every running member answers a health check.
wait_healthy() {
  local eps=() n
  for n in "${members[@]}"; do running "$n" && eps+=("127.0.0.1:$(client_port "$n")"); done
  local list
  list="$(IFS=,; echo "${eps[*]}")"
  for _ in $(seq 300); do
    if ctl --endpoints="$list" --dial-timeout=1s --command-timeout=2s \
      endpoint health >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  echo "error: etcd members at $list are not healthy after 30 s (logs: $dir/e*.log)" >&2
  return 1
}

member_arg() {
  [ $# -eq 1 ] && [[ "$1" =~ ^[123]$ ]] || usage
}

cmd="${1:-}"
shift || true
case "$cmd" in
  start)
    [ $# -eq 0 ] || usage
    install_etcd
    state=new
    [ -d "$dir/e1" ] && state=existing # a cluster stopped without stop: resume it
    if [ "${CAFES_ETCD_TLS:-0}" = 1 ]; then
      [ "$state" = existing ] && ! tls_on \
        && { echo "error: the cluster in $dir was made without TLS: stop it first" >&2; exit 1; }
      make_tls
    fi
    for n in "${members[@]}"; do start_member "$n" "$state"; done
    wait_healthy
    endpoints
    ;;
  status)
    [ $# -eq 0 ] || usage
    for n in "${members[@]}"; do
      ep="127.0.0.1:$(client_port "$n")"
      if ! running "$n"; then
        echo "e$n $ep down"
      elif ctl --endpoints="$ep" --dial-timeout=1s --command-timeout=2s \
        endpoint health >/dev/null 2>&1; then
        echo "e$n $ep healthy"
      else
        echo "e$n $ep unhealthy"
      fi
    done
    ;;
  endpoints)
    [ $# -eq 0 ] || usage
    endpoints
    ;;
  kill)
    member_arg "$@"
    if running "$1"; then
      kill -9 "$(cat "$dir/e$1.pid")"
      # Wait until it is gone, so that a test's next step sees it dead.
      for _ in $(seq 100); do running "$1" || break; sleep 0.05; done
    fi
    ;;
  pause | resume)
    member_arg "$@"
    running "$1" || { echo "error: member $1 is not running" >&2; exit 1; }
    kill "$([ "$cmd" = pause ] && echo -STOP || echo -CONT)" "$(cat "$dir/e$1.pid")"
    ;;
  leader)
    [ $# -eq 0 ] || usage
    # `endpoint status` prints "ENDPOINT, ID, VERSION, DB SIZE, IS LEADER, ...".
    for n in "${members[@]}"; do
      running "$n" || continue
      line="$(ctl --endpoints="127.0.0.1:$(client_port "$n")" \
        --dial-timeout=1s --command-timeout=2s endpoint status 2>/dev/null || true)"
      if [ "$(echo "$line" | awk -F', ' '{print $5}')" = "true" ]; then
        echo "$n"
        exit 0
      fi
    done
    echo "error: no member says it leads" >&2
    exit 1
    ;;
  tls)
    [ $# -eq 0 ] || usage
    tls_on || { echo "error: the cluster in $dir has no TLS (start it with CAFES_ETCD_TLS=1)" >&2; exit 1; }
    echo "--etcd-cacert $tls_dir/ca.pem --etcd-cert $tls_dir/client.pem --etcd-key $tls_dir/client.key"
    ;;
  restart)
    member_arg "$@"
    [ -d "$dir/e$1" ] || { echo "error: member $1 has no data in $dir: start first" >&2; exit 1; }
    start_member "$1" existing
    wait_healthy
    ;;
  stop)
    [ $# -eq 0 ] || usage
    for n in "${members[@]}"; do
      running "$n" && kill -TERM "$(cat "$dir/e$n.pid")" 2>/dev/null || true
    done
    for _ in $(seq 20); do
      alive=0
      for n in "${members[@]}"; do running "$n" && alive=1; done
      [ $alive -eq 0 ] && break
      sleep 0.1
    done
    for n in "${members[@]}"; do
      running "$n" && kill -KILL "$(cat "$dir/e$n.pid")" 2>/dev/null || true
    done
    rm -rf "$dir"
    ;;
  *)
    usage
    ;;
esac
