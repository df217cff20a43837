#!/usr/bin/env bash
# A 3-node MariaDB Galera cluster on loopback for the multi-primary tests and
# benchmarks. It never touches the system server: own data directories under
# $GALERA_DIR, own ports from $GALERA_BASE_PORT, started and stopped by PID.
#
#   scripts/galera/cluster.sh start    # prints the three MySQL URLs when the cluster is synced
#   scripts/galera/cluster.sh stop
#   scripts/galera/cluster.sh status
#
# Needs Debian's galera-4 and rsync (state transfer) beside the installed mariadbd.
set -euo pipefail

dir=${GALERA_DIR:-/tmp/switchboard-galera}
base=${GALERA_BASE_PORT:-4306}
nodes=${GALERA_NODES:-3}
provider=${GALERA_PROVIDER:-/usr/lib/galera/libgalera_smm.so}

sql_port() { echo $((base + $1 - 1)); }
gcomm_port() { echo $((base + 300 + $1 - 1)); }
ist_port() { echo $((base + 310 + $1 - 1)); }
sst_port() { echo $((base + 320 + $1 - 1)); }

cluster_address() {
  local list=() i
  for ((i = 1; i <= nodes; i++)); do list+=("127.0.0.1:$(gcomm_port "$i")"); done
  (IFS=,; echo "gcomm://${list[*]}")
}

write_config() {
  local i=$1 d="$dir/n$1"
  mkdir -p "$d"
  cat >"$d/my.cnf" <<CNF
[mysqld]
# mariadbd refuses to run as root unless told to; the rsync state transfer then runs as root too,
# so the joiners' data directories are writable by it.
user=root
datadir=$d/data
socket=$d/mysqld.sock
pid-file=$d/mysqld.pid
log-error=$d/error.log
port=$(sql_port "$i")
bind-address=127.0.0.1
skip-log-bin
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
innodb_buffer_pool_size=128M
innodb_flush_log_at_trx_commit=2
max_connections=500
wsrep_on=ON
wsrep_provider=$provider
wsrep_cluster_name=switchboard_test
wsrep_cluster_address=$(cluster_address)
wsrep_node_name=n$i
wsrep_node_address=127.0.0.1:$(gcomm_port "$i")
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:$(gcomm_port "$i");ist.recv_addr=127.0.0.1:$(ist_port "$i");gcache.size=64M"
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:$(sst_port "$i")
wsrep_slave_threads=2
CNF
}

client() { mariadb --protocol=tcp -h 127.0.0.1 -P "$(sql_port "$1")" -u root -N -B "${@:2}"; }

wait_synced() {
  local i=$1 t
  for t in $(seq 1 120); do
    if [ "$(client "$i" -e "SHOW STATUS LIKE 'wsrep_local_state_comment'" 2>/dev/null | awk '{print $2}')" = "Synced" ]; then return 0; fi
    if [ -f "$dir/n$i/mysqld.pid" ] && ! kill -0 "$(cat "$dir/n$i/mysqld.pid")" 2>/dev/null; then break; fi
    sleep 0.5
  done
  echo "node $i did not reach Synced; last lines of $dir/n$i/error.log:" >&2
  tail -n 30 "$dir/n$i/error.log" >&2 || true
  return 1
}

start_node() {
  local i=$1 extra=${2:-}
  # shellcheck disable=SC2086
  mariadbd --defaults-file="$dir/n$i/my.cnf" $extra >>"$dir/n$i/stdout.log" 2>&1 &
  echo $! >"$dir/n$i/launcher.pid"
}

start() {
  command -v mariadbd >/dev/null || { echo "mariadbd is not installed" >&2; exit 1; }
  [ -f "$provider" ] || { echo "galera provider $provider missing (apt-get install galera-4)" >&2; exit 1; }
  command -v rsync >/dev/null || { echo "rsync is needed for state transfer (apt-get install rsync)" >&2; exit 1; }
  stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  local i
  for ((i = 1; i <= nodes; i++)); do
    write_config "$i"
    # Root without a password over TCP, like the system test server.
    mariadb-install-db --defaults-file="$dir/n$i/my.cnf" --auth-root-authentication-method=normal --skip-test-db >"$dir/n$i/install.log" 2>&1
  done
  start_node 1 --wsrep-new-cluster
  wait_synced 1
  client 1 -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;"
  # Joiners one at a time: each takes a full state transfer from a synced donor.
  for ((i = 2; i <= nodes; i++)); do
    # The joiner's rsync daemon runs as nobody (no uid in the config wsrep_sst_rsync writes), so it must own the data directory.
    chmod 755 "$dir" "$dir/n$i"
    chown -R nobody:nogroup "$dir/n$i/data"
    start_node "$i"
    wait_synced "$i"
  done
  for ((i = 1; i <= nodes; i++)); do echo "mysql://root@127.0.0.1:$(sql_port "$i")"; done
}

stop() {
  local i pid
  for ((i = nodes; i >= 1; i--)); do
    for f in "$dir/n$i/mysqld.pid" "$dir/n$i/launcher.pid"; do
      [ -f "$f" ] || continue
      pid=$(cat "$f")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$f"
    done
  done
}

status() {
  local i
  for ((i = 1; i <= nodes; i++)); do
    printf 'n%s %s ' "$i" "mysql://root@127.0.0.1:$(sql_port "$i")"
    client "$i" -e "SHOW STATUS WHERE Variable_name IN ('wsrep_local_state_comment','wsrep_cluster_size')" 2>/dev/null | tr '\n\t' '  ' || printf 'down'
    echo
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
