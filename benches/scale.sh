#!/usr/bin/env bash
# Issue 6's scale targets, measured against a real nginx (libnginx-mod-rtmp: RTMP ingest → HLS)
# fed by ffmpeg, everything on loopback. Not part of the test suite; docs/performance.md says how
# to read the output.
#
#   benches/scale.sh viewers   # N concurrent HLS viewers held by ONE peakready process
#   benches/scale.sh shards    # N viewers as S local peakready processes (--shard I/S)
#   benches/scale.sh joins     # RATE joins/s for SECS s; every join records connect_ms
#   benches/scale.sh idle      # added latency at idle: `quick -c 1` vs `wrk -t1 -c1` (benches/peers.sh)
#
#   N=300 RATE=100 HOLD=10 benches/scale.sh viewers          # a small smoke run
#   OUT=/tmp/scale-100k benches/scale.sh shards              # keep results where you want them
#
# Environment (default in brackets):
#   OUT           directory for every run's results, logs, scenario and nginx config; kept
#                 [a new /tmp/peakready-scale-MODE-XXXXXX]
#   PEAKREADY     the binary [target/release/peakready, built with cargo build --release if absent]
#   SEED          [1]
#   viewers       N [18000]  RATE joins/s of the ramp [1000]  HOLD s held at the plateau [30]
#                 RUNS [3]: the plan run that many times against the same nginx; prints each run,
#                 then the median and spread (min – max) of every figure
#                 NGINX_WORKERS [2]  NGINX_CONNS worker_connections [18000]  SOURCE_ADDRS [none]
#   shards        N [100000]  S processes [6]  RATE [1000]  HOLD [30]  COLLECT [1: through `peakready collect`]
#                 NGINX_WORKERS [8]  NGINX_CONNS [16000]  SOURCE_ADDRS [127.0.0.2-127.0.0.9]
#   joins         RATE [10000]  SECS [60]  WATCH s each viewer stays [1]  S processes [1]
#                 JOIN [hls: connect + playlist + first 44 KiB segment | api: connect + one
#                 small token request (GET /api/join), then the viewer holds its connection]
#                 NGINX_WORKERS [1 with JOIN=api, 4 with hls]  NGINX_CONNS [16000]
#                 SOURCE_ADDRS [127.0.0.2-127.0.0.41]
#   viewers/shards/joins  MAX_VIEWERS (load.max_viewers, split over shards) [see each mode]
#   the stream    SIZE [160x90]  FPS [10]  VIDEO_KBPS [48]  AUDIO_KBPS [0 = no audio; 16 adds
#                 ~24 kbit/s of MPEG-TS overhead: 48k video alone is ~62 kbit/s on the wire]
#                 FRAGMENT s [6]  PLAYLIST s [30]  MIN_SEGMENTS listed before load starts [2]
#   idle          ROUNDS [3]  DURATION s per tool and round [10]
#
# Needs: nginx + libnginx-mod-rtmp, ffmpeg, python3, /usr/bin/time, ps (and wrk for idle):
#   apt-get install nginx libnginx-mod-rtmp ffmpeg wrk time procps
# Load goes to 127.0.0.0/8 only. Every process started here is stopped by its PID on exit.
# Each nginx worker, like each peakready process, is held to the open-files hard limit
# (worker_rlimit_nofile 19000 here, for a 20,000 hard limit).
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=${1:-}
case $MODE in
  viewers | shards | joins | idle) ;;
  *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2 ;;
esac

BIN=${PEAKREADY:-target/release/peakready}
SEED=${SEED:-1}
SIZE=${SIZE:-160x90}
FPS=${FPS:-10}
VIDEO_KBPS=${VIDEO_KBPS:-48}
AUDIO_KBPS=${AUDIO_KBPS:-0}
FRAGMENT=${FRAGMENT:-6}
PLAYLIST=${PLAYLIST:-30}
MIN_SEGMENTS=${MIN_SEGMENTS:-2}

say() { printf '%s\n' "$*"; }
die() { printf 'scale.sh: %s\n' "$*" >&2; exit 2; }
# Prints a command as it can be pasted into a shell.
show() { printf '+'; printf ' %q' "$@"; printf '\n'; }

# ---- tools -------------------------------------------------------------------------------------
missing=()
need=(python3 ps)
case $MODE in
  idle) need+=(nginx wrk) ;;
  *) need+=(nginx ffmpeg) ;;
esac
for tool in "${need[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
done
[ -x /usr/bin/time ] || missing+=("/usr/bin/time (package: time)")
RTMP_MODULE=""
if [ "$MODE" != idle ]; then
  for d in /usr/lib/nginx/modules /usr/share/nginx/modules /usr/lib64/nginx/modules; do
    [ -f "$d/ngx_rtmp_module.so" ] && { RTMP_MODULE="$d/ngx_rtmp_module.so"; break; }
  done
  [ -n "$RTMP_MODULE" ] || missing+=("ngx_rtmp_module.so (package: libnginx-mod-rtmp)")
fi
if [ ${#missing[@]} -gt 0 ]; then
  die "missing: ${missing[*]}. Debian: apt-get install nginx libnginx-mod-rtmp ffmpeg wrk time procps"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$BIN" ]; then
  show cargo build --release
  cargo build --release
fi
[ -x "$BIN" ] || die "no peakready binary at $BIN"

# ---- limits ------------------------------------------------------------------------------------
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ]; then ulimit -n 1048576 2>/dev/null || true; else ulimit -n "$hard"; fi
NOFILE=$(ulimit -n)
[ "$NOFILE" = unlimited ] && NOFILE=1048576
read -r PORT_LO PORT_HI < /proc/sys/net/ipv4/ip_local_port_range
say "machine: $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
say "limits: open files $NOFILE (soft raised to hard $hard), ephemeral ports $PORT_LO-$PORT_HI, tcp_tw_reuse=$(cat /proc/sys/net/ipv4/tcp_tw_reuse 2>/dev/null || echo '?')"

OUT=${OUT:-$(mktemp -d "/tmp/peakready-scale-$MODE-XXXXXX")}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
say "results: $OUT (kept)"

# ---- processes we own, stopped by PID on exit --------------------------------------------------
NGINX_PID=""
FFMPEG_PID=""
GEN_PIDS=()
COLLECTOR_PID=""
COLLECTOR_URL=""
stop() { # pid: SIGTERM, then wait for it (it is our child)
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  local p c
  for p in "${GEN_PIDS[@]}"; do
    # GEN_PIDS are /usr/bin/time processes; stop the peakready each one runs first.
    if kill -0 "$p" 2>/dev/null; then
      for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do kill "$c" 2>/dev/null || true; done
      stop "$p"
    fi
  done
  if [ -n "$COLLECTOR_PID" ] && kill -0 "$COLLECTOR_PID" 2>/dev/null; then
    for c in $(ps -o pid= --ppid "$COLLECTOR_PID" 2>/dev/null); do kill "$c" 2>/dev/null || true; done
    stop "$COLLECTOR_PID"
  fi
  [ -n "$FFMPEG_PID" ] && stop "$FFMPEG_PID"
  [ -n "$NGINX_PID" ] && stop "$NGINX_PID"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free loopback port below the ephemeral range, so no generator connection can ever hold it.
free_port() {
  python3 - "$PORT_LO" <<'PY'
import random, socket, sys
hi = min(int(sys.argv[1]) - 1, 32767)
for _ in range(500):
    port = random.randint(20000, hi)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
else:
    sys.exit("no free port between 20000 and %d" % hi)
PY
}

# CPU seconds (user + sys) of the nginx workers: the master's children named "nginx: worker".
nginx_cpu() {
  python3 - "$NGINX_PID" <<'PY'
import os, sys
master, tck, total = sys.argv[1], os.sysconf("SC_CLK_TCK"), 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    if fields[1] == master and open(f"/proc/{pid}/cmdline", "rb").read().startswith(b"nginx: worker"):
        total += int(fields[11]) + int(fields[12])
print(f"{total / tck:.2f}")
PY
}

# ---- nginx (RTMP → HLS, served over HTTP) + ffmpeg ---------------------------------------------
# start_stream WORKERS WORKER_CONNECTIONS: sets NG (its directory), HTTP_PORT, RTMP_PORT, PLAYLIST_URL.
start_stream() {
  local workers=$1 conns=$2 user=""
  NG="$OUT/nginx"
  mkdir -p "$NG/hls" "$NG/tmp"
  HTTP_PORT=$(free_port)
  RTMP_PORT=$(free_port)
  while [ "$RTMP_PORT" = "$HTTP_PORT" ]; do RTMP_PORT=$(free_port); done
  # As root, nginx would run its workers as nobody, who cannot write the HLS directory.
  [ "$(id -u)" = 0 ] && user="user $(id -un) $(id -gn);"
  cat > "$NG/nginx.conf" <<EOF
load_module $RTMP_MODULE;
$user
daemon off;
master_process on;
worker_processes $workers;
worker_rlimit_nofile $(( NOFILE > 20000 ? 19000 : NOFILE - 1000 ));
pid $NG/nginx.pid;
error_log $NG/error.log warn;
events { worker_connections $conns; multi_accept on; }
rtmp {
  server {
    listen 127.0.0.1:$RTMP_PORT;
    chunk_size 4096;
    application live {
      live on; record off;
      hls on; hls_path $NG/hls; hls_fragment ${FRAGMENT}s; hls_playlist_length ${PLAYLIST}s;
    }
  }
}
http {
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_timeout 300s; keepalive_requests 1000000;
  client_body_temp_path $NG/tmp/body; proxy_temp_path $NG/tmp/proxy; fastcgi_temp_path $NG/tmp/fcgi;
  uwsgi_temp_path $NG/tmp/uwsgi; scgi_temp_path $NG/tmp/scgi;
  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
  server {
    listen 127.0.0.1:$HTTP_PORT reuseport backlog=4096;
    location /hls/ { alias $NG/hls/; add_header Cache-Control no-cache; }
    location = /api/join { default_type application/json; return 200 '{"token":"t","room":"gala"}'; }
  }
}
EOF
  show "$NGINX" -p "$NG" -e "$NG/error.log" -c "$NG/nginx.conf"
  "$NGINX" -p "$NG" -e "$NG/error.log" -c "$NG/nginx.conf" > "$NG/stdout.log" 2>&1 &
  NGINX_PID=$!
  local i
  for i in $(seq 100); do
    kill -0 "$NGINX_PID" 2>/dev/null || die "nginx exited: $(cat "$NG/error.log" "$NG/stdout.log" 2>/dev/null)"
    python3 -c "import socket; [socket.create_connection(('127.0.0.1', p), 0.2).close() for p in ($HTTP_PORT, $RTMP_PORT)]" 2>/dev/null && break
    [ "$i" = 100 ] && die "nginx did not listen on $HTTP_PORT/$RTMP_PORT within 10 s"
    sleep 0.1
  done
  say "nginx: master $NGINX_PID, children $(ps -o pid=,args= --ppid "$NGINX_PID" | sed 's/ *\([0-9]*\) nginx: \(.*\) process/\1 (\2)/' | paste -sd' '), HTTP 127.0.0.1:$HTTP_PORT, RTMP 127.0.0.1:$RTMP_PORT"

  local gop=$(( FPS * FRAGMENT )) audio_in=() audio_out=(-an)
  if [ "$AUDIO_KBPS" -gt 0 ]; then
    audio_in=(-f lavfi -i "sine=frequency=440:sample_rate=22050")
    audio_out=(-c:a aac -b:a "${AUDIO_KBPS}k" -ac 1 -ar 22050)
  fi
  local ff=(ffmpeg -nostdin -loglevel error -re -f lavfi -i "testsrc=size=$SIZE:rate=$FPS" "${audio_in[@]}"
    -pix_fmt yuv420p -c:v libx264 -preset ultrafast -tune zerolatency
    -b:v "${VIDEO_KBPS}k" -maxrate "${VIDEO_KBPS}k" -bufsize "$(( VIDEO_KBPS * 2 ))k"
    -g "$gop" -keyint_min "$gop" -sc_threshold 0 "${audio_out[@]}"
    -f flv "rtmp://127.0.0.1:$RTMP_PORT/live/stream")
  show "${ff[@]}"
  "${ff[@]}" > "$OUT/ffmpeg.log" 2>&1 &
  FFMPEG_PID=$!

  # Load starts only once nginx lists MIN_SEGMENTS segments and serves the playlist over HTTP.
  PLAYLIST_URL="http://127.0.0.1:$HTTP_PORT/hls/stream.m3u8"
  local deadline=$(( SECONDS + FRAGMENT * (MIN_SEGMENTS + 2) + 30 )) n=0
  while :; do
    kill -0 "$FFMPEG_PID" 2>/dev/null || die "ffmpeg exited: $(cat "$OUT/ffmpeg.log")"
    kill -0 "$NGINX_PID" 2>/dev/null || die "nginx exited: $(cat "$NG/error.log")"
    n=$(grep -c '^#EXTINF' "$NG/hls/stream.m3u8" 2>/dev/null || true)
    [ "${n:-0}" -ge "$MIN_SEGMENTS" ] && break
    [ "$SECONDS" -ge "$deadline" ] && die "no playlist with $MIN_SEGMENTS segments after ${deadline}s: $(cat "$NG/error.log")"
    sleep 0.5
  done
  python3 - "$PLAYLIST_URL" "$NG/hls" <<'PY'
import os, sys, urllib.request
text = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
segs = [l for l in text.splitlines() if l and not l.startswith("#")]
durs = [float(l.split(":")[1].split(",")[0]) for l in text.splitlines() if l.startswith("#EXTINF")]
sizes = [os.path.getsize(os.path.join(sys.argv[2], s)) for s in segs if os.path.exists(os.path.join(sys.argv[2], s))]
kbps = sum(sizes) * 8 / 1000 / sum(durs) if durs and sizes else 0
print(f"playlist: {sys.argv[1]} lists {len(segs)} segments of {', '.join(f'{d:.1f}' for d in durs)} s, "
      f"{sum(sizes) // max(len(sizes), 1) // 1024} KiB each on average = {kbps:.0f} kbit/s on the wire")
PY
}

# ---- scenarios ---------------------------------------------------------------------------------
# scenario FILE NAME SOURCE_ADDRS MAX_VIEWERS MAX_JOINS WATCH PHASES...  (each phase a YAML flow map)
scenario() {
  local file=$1 name=$2 sources=$3 max=$4 max_joins=$5 watch=$6 phase
  shift 6
  {
    say "# Written by benches/scale.sh $MODE; every value comes from its environment."
    say "name: $name"
    say "target:"
    say "  base_url: http://127.0.0.1:$HTTP_PORT"
    say "  allow_hosts: [127.0.0.1]"
    say "  timeout: 20s"
    [ -n "$sources" ] && say "  source_addrs: [$sources]"
    say "regions:"
    say "  - { name: loopback, weight: 1 }"
    say "load:"
    say "  max_viewers: $max"
    say "  max_joins_per_sec: $max_joins"
    say "  phases:"
    for phase in "$@"; do say "    - $phase"; done
    say "viewer:"
    if [ "${JOIN:-hls}" = api ]; then
      # A join is the app's token call; the viewer then holds its connection, not a player.
      say "  join:"
      say "    - { name: token, method: GET, path: /api/join, expect_status: 200 }"
      say "  watch:"
      say "    protocol: none"
      say "    duration: $watch"
    else
      say "  join: []"
      say "  watch:"
      say "    protocol: hls"
      say "    url: /hls/stream.m3u8"
      say "    duration: $watch"
      say "    rendition: lowest"
    fi
  } > "$file"
  say "scenario: $file"
  sed 's/^/  | /' "$file"
  show "$BIN" validate "$file"
  "$BIN" validate "$file" > "$file.validate" 2>&1 || die "scenario does not validate: $(cat "$file.validate")"
}

# ---- generator processes -----------------------------------------------------------------------
# run_generators SCENARIO SHARDS: starts SHARDS peakready processes together (one without --shard
# when SHARDS=1), waits for all, sets DIRS to their result directories.
run_generators() {
  local scen=$1 shards=$2 i label args rc failed=0
  DIRS=()
  GEN_PIDS=()
  for i in $(seq "$shards"); do
    if [ "$shards" = 1 ]; then label=run${RUN_TAG:-}; args=(); else label=shard-$i; args=(--shard "$i/$shards"); fi
    if [ -n "$COLLECTOR_URL" ]; then args+=(--collector "$COLLECTOR_URL"); fi
    local cmd=(/usr/bin/time -f "%U %S %M %e" -o "$OUT/$label.time"
      "$BIN" run "$scen" --seed "$SEED" --quiet --out "$OUT/$label" "${args[@]}")
    show "${cmd[@]}"
    "${cmd[@]}" > "$OUT/$label.log" 2>&1 &
    GEN_PIDS+=($!)
    DIRS+=("$OUT/$label")
  done
  for i in "${!GEN_PIDS[@]}"; do
    rc=0
    wait "${GEN_PIDS[$i]}" || rc=$?
    # 0: every SLO passed; 1: an SLO failed or the run aborted (results still written); 2+: no run.
    if [ "$rc" -ge 2 ] || [ ! -f "${DIRS[$i]}/results.json" ]; then
      failed=1
      say "generator ${DIRS[$i]##*/} failed (exit $rc):"
      tail -n 20 "$OUT/${DIRS[$i]##*/}.log" | sed 's/^/  | /'
    fi
  done
  GEN_PIDS=()
  [ "$failed" = 0 ] || die "a generator failed; logs in $OUT"
}

# start_collector SHARDS: `peakready collect` on loopback for the shards mode (start barrier, live
# merge, one merged directory in $OUT/collected); sets COLLECTOR_URL and COLLECTOR_PID.
start_collector() {
  local cmd=(/usr/bin/time -f "%U %S %M %e" -o "$OUT/collector.time"
    "$BIN" collect --listen 127.0.0.1:0 --shards "$1" --out "$OUT/collected")
  show "${cmd[@]}"
  CI=1 "${cmd[@]}" > "$OUT/collector.out" 2> "$OUT/collector.log" &
  COLLECTOR_PID=$!
  for _ in $(seq 100); do
    COLLECTOR_URL=$(grep -o 'http://[0-9.:]*[0-9]' "$OUT/collector.out" 2>/dev/null | head -1 || true)
    [ -n "$COLLECTOR_URL" ] && return 0
    sleep 0.1
  done
  die "the collector did not start: $(cat "$OUT/collector.log")"
}

# finish_collector: wait for it, show its merged line, start skew and cost, and check its
# summaries against `peakready merge` of the shards' own directories (MERGED).
finish_collector() {
  local rc=0
  wait "$COLLECTOR_PID" || rc=$?
  COLLECTOR_PID=""
  say "collector exited $rc (0: complete and every SLO passed; 1: an SLO failed, partial or aborted)"
  grep -E "start skew|merged live figures|SLO failing|missing|lost" "$OUT/collector.log" | sed 's/^/  | /' || true
  read -r u s rss wall < <(tail -n 1 "$OUT/collector.time")
  say "  collector CPU user+sys $(python3 -c "print(f'{$u + $s:.2f}')") s, peak RSS $((rss / 1024)) MiB over ${wall} s"
  [ -f "$OUT/collected/results.json" ] || { say "collector wrote no results; see $OUT/collector.log"; return 0; }
  python3 - "$OUT/collected/results.json" "$1/results.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
keys = ["regions", "overall", "slo", "slo_passed", "status"]
same = all(a[k] == b[k] for k in keys)
o, g = a["overall"], a["generator"]
print(f"collected: peak concurrent viewers {o['peak_concurrent_viewers']:,}, joins failed {o['joins']['failed']:,}, "
      f"missing shards {a['merge']['missing']}; summaries {'IDENTICAL to' if same else 'DIFFERENT from'} offline merge")
# The fleet's lag: percentiles of the merged generator_lag_ms histogram (every shard's viewers).
print(f"  merged generator lag p50 / p99 / max  {g['lag_p50_ms']:.2f} / {g['lag_p99_ms']:.2f} / {g['lag_max_ms']:.2f} ms"
      f"   late (> {g['late_threshold_ms']:.0f} ms) {g['late_arrivals']:,}")
print(f"  generator-limited (merged)     {'YES: ' + g['message'] if g['limited'] else 'no'}")
rd = a.get("readiness") or {}
verdict = rd.get("overall", {}).get("verdict", "n/a").replace("_", " ").upper()
print(f"  verdict {verdict}, status {a['status']}, SLOs {'passed' if a['slo_passed'] else 'FAILED'}")
PY
}

# summarize KIND PLANNED DIR...: per process and totals, from results.json and /usr/bin/time.
summarize() {
  python3 - "$@" <<'PY'
import json, os, sys

kind, planned, dirs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]

def ms(metrics, name, stat):
    m = metrics.get(name)
    return f"{m[stat]:.2f} ms" if m else "n/a (no samples)"

tot = dict(peak=0, attempted=0, succeeded=0, failed=0, capped=0, errors=0, requests=0,
           cpu=0.0, rss_kib=0, connects=0, lag_p99=0.0, limited=False, wall=0.0)
for d in dirs:
    r = json.load(open(os.path.join(d, "results.json")))
    u, s, rss_kib, wall = open(d + ".time").read().split()[-4:]
    cpu, rss_kib, wall = float(u) + float(s), int(rss_kib), float(wall)
    o, g = r["overall"], r["generator"]
    j, m = o["joins"], o["metrics"]
    peak, errs = o["peak_concurrent_viewers"], sum(o["errors"].values())
    connects = m.get("connect_ms", {}).get("count", 0)
    print(f"\n== {os.path.basename(d)} ({r['status']}, {r['duration_s']:.1f} s, results {d})")
    print(f"  viewers held (peak concurrent)  {peak:,}")
    if kind != "joins":
        import csv
        rows = [row for row in csv.DictReader(open(os.path.join(d, "timeseries.csv"))) if row["region"] == "all"]
        plateau = len({row["second"] for row in rows if peak and int(row["active_viewers"]) >= 0.99 * peak})
        print(f"  seconds at >= 99% of that peak  {plateau} (timeseries.csv)")
    print(f"  joins attempted / succeeded     {j['attempted']:,} / {j['succeeded']:,}"
          f"   failed {j['failed']:,}   capped by max_viewers {j['capped']:,}")
    print(f"  errors                          {errs:,} {json.dumps(o['errors']) if errs else ''}  (error rate {o['error_rate']:.4%})")
    print(f"  requests                        {o['requests']:,}")
    if kind == "joins":
        print(f"  joins with a recorded connect   {connects:,} connect_ms samples for {j['attempted']:,} attempted joins")
        print(f"  connect_ms p50 / p99 / max      {ms(m, 'connect_ms', 'p50')} / {ms(m, 'connect_ms', 'p99')} / {ms(m, 'connect_ms', 'max')}")
    # join_ms exists only with join steps (JOIN=api); first_frame_ms runs from the intended
    # start through connect, playlist and first segment.
    if "join_ms" in m:
        print(f"  join_ms p50 / p99               {ms(m, 'join_ms', 'p50')} / {ms(m, 'join_ms', 'p99')}")
    print(f"  playlist_ms p50 / p99           {ms(m, 'playlist_ms', 'p50')} / {ms(m, 'playlist_ms', 'p99')}")
    print(f"  first_frame_ms p50 / p99        {ms(m, 'first_frame_ms', 'p50')} / {ms(m, 'first_frame_ms', 'p99')}")
    if kind != "joins":
        print(f"  segment_ms p50 / p99            {ms(m, 'segment_ms', 'p50')} / {ms(m, 'segment_ms', 'p99')}")
        sr = m.get("stall_ratio")
        print(f"  stall ratio p99 / max           " + (f"{sr['p99']:.4f} / {sr['max']:.4f}" if sr else "n/a"))
    print(f"  generator CPU user+sys          {cpu:.2f} s over {wall:.1f} s wall (results.json: {g['cpu_seconds']:.2f} s, {g['cpu_utilisation']:.0%} of {g['cores']} cores)")
    per = f"{rss_kib / peak:.1f} KiB per viewer" if peak else "n/a KiB per viewer (no viewers)"
    print(f"  peak RSS                        {rss_kib / 1024:.1f} MiB = {per}  (results.json: {g['peak_rss_bytes'] / 2**20:.1f} MiB)")
    print(f"  generator lag p50 / p99 / max   {g['lag_p50_ms']:.2f} / {g['lag_p99_ms']:.2f} / {g['lag_max_ms']:.2f} ms"
          f"   late (> {g['late_threshold_ms']:.0f} ms) {g['late_arrivals']:,}")
    print(f"  open files peak / limit         {g['peak_open_files']:,} / {g['open_files_limit']:,}")
    rt = g.get("runtime")
    if rt:
        print(f"  runtime (busiest second)        threads busy {rt['busy_max']:.0%}, CPU {rt['cpu_max']:.0%} of the cores its threads can use, "
              f"machine {rt.get('machine_cpu_max', 0):.0%}; scheduling delay p99 / max {rt['scheduling_delay_p99_ms']:.2f} / {rt['scheduling_delay_max_ms']:.2f} ms (runtime.csv)")
    print(f"  generator-limited               {'YES: ' + g['message'] if g['limited'] else 'no'}")
    for k, v in [("peak", peak), ("attempted", j["attempted"]), ("succeeded", j["succeeded"]), ("failed", j["failed"]),
                 ("capped", j["capped"]), ("errors", errs), ("requests", o["requests"]), ("cpu", cpu),
                 ("rss_kib", rss_kib), ("connects", connects)]:
        tot[k] += v
    tot["lag_p99"] = max(tot["lag_p99"], g["lag_p99_ms"])
    tot["limited"] |= g["limited"]
    tot["wall"] = max(tot["wall"], wall)

if kind == "joins":
    print(f"\njoins planned {planned:,}, attempted {tot['attempted']:,} ({tot['attempted'] / max(planned, 1):.1%}), "
          f"with a recorded connect_ms {tot['connects']:,}, failed {tot['failed']:,}, capped {tot['capped']:,}")
if len(dirs) > 1:
    print(f"\n== total over {len(dirs)} processes (percentiles are per process above; lag p99 is the worst process's)")
    print(f"  sum of peak viewers             {tot['peak']:,}   (each process's own peak; an upper bound of the simultaneous peak)")
    print(f"  joins attempted / failed        {tot['attempted']:,} / {tot['failed']:,}   capped {tot['capped']:,}")
    print(f"  errors / requests               {tot['errors']:,} / {tot['requests']:,}")
    print(f"  generator CPU user+sys          {tot['cpu']:.2f} s over {tot['wall']:.1f} s wall")
    per = f"{tot['rss_kib'] / tot['peak']:.1f} KiB per viewer" if tot["peak"] else "n/a"
    print(f"  total peak RSS                  {tot['rss_kib'] / 1024:.1f} MiB = {per}")
    print(f"  worst generator lag p99         {tot['lag_p99']:.2f} ms   generator-limited in any process: {'YES' if tot['limited'] else 'no'}")
PY
}

# medians DIR...: one line per run and the median and spread (min–max) of each figure, for
# RUNS repeated runs of the same plan (figures quoted in docs/performance.md are these medians).
medians() {
  python3 - "$@" <<'PY'
import json, os, statistics, sys
rows = []
for d in sys.argv[1:]:
    r = json.load(open(os.path.join(d, "results.json")))
    u, s, rss_kib, wall = open(d + ".time").read().split()[-4:]
    g, o = r["generator"], r["overall"]
    m, peak = o["metrics"], o["peak_concurrent_viewers"]
    rows.append({
        "lag p50 ms": g["lag_p50_ms"], "lag p99 ms": g["lag_p99_ms"], "lag max ms": g["lag_max_ms"],
        "late": g["late_arrivals"], "CPU s": float(u) + float(s), "wall s": float(wall),
        "KiB/viewer": int(rss_kib) / peak if peak else float("nan"),
        "playlist p99 ms": m.get("playlist_ms", {}).get("p99", float("nan")),
        "first frame p99 ms": m.get("first_frame_ms", {}).get("p99", float("nan")),
        "sched delay max ms": (g.get("runtime") or {}).get("scheduling_delay_max_ms", float("nan")),
        "limited": g["limited"], "reason": g.get("reason") or "-",
    })
keys = [k for k in rows[0] if k not in ("limited", "reason")]
width = max(len(k) for k in keys) + 2
print(f"\n== {len(rows)} runs: median and spread (min – max)")
print(" " * width + "".join(f"{'run ' + str(i + 1):>12}" for i in range(len(rows))) + f"{'median':>12}   spread")
for k in keys:
    vals = [row[k] for row in rows]
    fmt = (lambda v: f"{v:,.0f}") if k in ("late",) else (lambda v: f"{v:,.2f}")
    print(f"{k:<{width}}" + "".join(f"{fmt(v):>12}" for v in vals)
          + f"{fmt(statistics.median(vals)):>12}   {fmt(min(vals))} – {fmt(max(vals))}")
limited = sum(row["limited"] for row in rows)
reasons = ", ".join(sorted({row["reason"] for row in rows if row["limited"]})) or "-"
print(f"generator-limited in {limited} of {len(rows)} runs (reasons: {reasons})")
PY
}

# ---- modes -------------------------------------------------------------------------------------
# viewers/shards: ramp at RATE to N, hold HOLD s; nobody leaves before the plan ends.
scale_run() {
  local n=$1 shards=$2 rate=$3 hold=$4 sources=$5 max=$6
  local ramp_ms=$(( (n * 1000 + rate - 1) / rate ))
  local watch=$(( ramp_ms / 1000 + hold + 30 ))
  local scen="$OUT/scale-nginx.yaml"
  scenario "$scen" "scale-nginx-$MODE" "$sources" "$max" $(( rate * 2 )) "${watch}s" \
    "{ name: ramp, duration: ${ramp_ms}ms, joins_per_sec: $rate }" \
    "{ name: hold, duration: ${hold}s, joins_per_sec: 0 }"
  local before after
  before=$(nginx_cpu)
  run_generators "$scen" "$shards"
  after=$(nginx_cpu)
  summarize viewers "$n" "${DIRS[@]}"
  say "  nginx workers CPU user+sys      $(python3 -c "print(f'{$after - $before:.2f}')") s during the run (nginx workers: $NGINX_WORKERS_USED)"
}

case $MODE in
  viewers)
    N=${N:-18000}; RATE=${RATE:-1000}; HOLD=${HOLD:-30}
    NGINX_WORKERS_USED=${NGINX_WORKERS:-2}
    say "viewers: $N concurrent HLS viewers in one peakready process, ramp $RATE joins/s, held ${HOLD}s, against nginx"
    start_stream "$NGINX_WORKERS_USED" "${NGINX_CONNS:-18000}"
    RUNS=${RUNS:-3}
    ALL_DIRS=()
    for run in $(seq "$RUNS"); do
      say ""
      say "==== run $run of $RUNS (load average $(cut -d' ' -f1-3 /proc/loadavg))"
      RUN_TAG=-$run
      scale_run "$N" 1 "$RATE" "$HOLD" "${SOURCE_ADDRS:-}" "${MAX_VIEWERS:-$(( N + 500 ))}"
      ALL_DIRS+=("${DIRS[@]}")
    done
    medians "${ALL_DIRS[@]}"
    ;;
  shards)
    N=${N:-100000}; S=${S:-6}; RATE=${RATE:-1000}; HOLD=${HOLD:-30}
    NGINX_WORKERS_USED=${NGINX_WORKERS:-8}
    say "shards: $N concurrent HLS viewers as $S peakready processes (--shard I/$S, seed $SEED), ramp $RATE joins/s, held ${HOLD}s, against nginx"
    start_stream "$NGINX_WORKERS_USED" "${NGINX_CONNS:-16000}"
    # The collector path by default (COLLECT=0 runs the shards alone, merged offline only).
    if [ "${COLLECT:-1}" = 1 ]; then start_collector "$S"; fi
    scale_run "$N" "$S" "$RATE" "$HOLD" "${SOURCE_ADDRS-127.0.0.2-127.0.0.9}" "${MAX_VIEWERS:-$(( N + 500 * S ))}"
    if "$BIN" merge --help > /dev/null 2>&1; then
      show "$BIN" merge "${DIRS[@]}" --out "$OUT/merged"
      if "$BIN" merge "${DIRS[@]}" --out "$OUT/merged" > "$OUT/merge.log" 2>&1 && [ -f "$OUT/merged/results.json" ]; then
        python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(f\"merged: peak concurrent viewers {r['overall']['peak_concurrent_viewers']:,}, joins failed {r['overall']['joins']['failed']:,}\")" "$OUT/merged/results.json"
      else
        say "merge failed; see $OUT/merge.log"
      fi
      if [ -n "$COLLECTOR_PID" ]; then finish_collector "$OUT/merged"; fi
    else
      say "merge: skipped ($BIN has no 'merge' verb yet); the totals above are sums of per-process figures"
    fi
    ;;
  joins)
    RATE=${RATE:-10000}; SECS=${SECS:-60}; WATCH=${WATCH:-1}; S=${S:-1}
    # One worker answers 10,000 small token requests a second with a core to spare; on a 2-core
    # machine shared with the generator, four made the machine the limit (7 Dec: lag p99 1.28 s
    # and flagged, against 17 ms with one). The HLS join's 44 KiB segment needs more of nginx.
    if [ "${JOIN:-hls}" = api ]; then NGINX_WORKERS_USED=${NGINX_WORKERS:-1}; else NGINX_WORKERS_USED=${NGINX_WORKERS:-4}; fi
    say "joins: $RATE joins/s for ${SECS}s (JOIN=${JOIN:-hls}), each viewer stays ${WATCH}s, $S process(es), against nginx"
    start_stream "$NGINX_WORKERS_USED" "${NGINX_CONNS:-16000}"
    scen="$OUT/joins-nginx.yaml"
    # Concurrency is about RATE × (WATCH + join time); the cap keeps every process under its
    # open-files limit, and joins it turns away are reported as capped, not hidden.
    scenario "$scen" joins-nginx "${SOURCE_ADDRS-127.0.0.2-127.0.0.41}" \
      "${MAX_VIEWERS:-$(( S * (NOFILE - 1000) ))}" "$RATE" "${WATCH}s" \
      "{ name: joins, duration: ${SECS}s, joins_per_sec: $RATE }"
    before=$(nginx_cpu)
    run_generators "$scen" "$S"
    after=$(nginx_cpu)
    summarize joins $(( RATE * SECS )) "${DIRS[@]}"
    say "  nginx workers CPU user+sys      $(python3 -c "print(f'{$after - $before:.2f}')") s during the run (nginx workers: $NGINX_WORKERS_USED)"
    ;;
  idle)
    ROUNDS=${ROUNDS:-3}; DURATION=${DURATION:-10}
    say "idle: peakready quick -c 1 vs wrk -t1 -c1, ${DURATION}s each, $ROUNDS round(s) interleaved, nginx serving 1 KiB"
    cmd=(env CONNS=1 THREADS=1 DURATION="$DURATION" ROUNDS="$ROUNDS" PEAKREADY="$BIN" ROWS_OUT="$OUT/idle-rows.txt" benches/peers.sh)
    show "${cmd[@]}"
    "${cmd[@]}" 2>&1 | tee "$OUT/peers.log"
    python3 - "$OUT/idle-rows.txt" <<'PY'
import statistics, sys
p50 = {}
for line in open(sys.argv[1]):
    tool, rnd, _rps, med = line.split()[:4]
    p50.setdefault(tool, {})[int(rnd)] = float(med) * 1000  # ms -> µs
pk, wrk = p50["peakready"], p50["wrk"]
print("\nround  peakready p50  wrk p50  difference")
for r in sorted(pk):
    print(f"{r:>5}  {pk[r]:>10.0f} µs  {wrk[r]:>4.0f} µs  {pk[r] - wrk[r]:>+7.0f} µs")
a, b = statistics.median(pk.values()), statistics.median(wrk.values())
verdict = "met" if a - b <= 50 else "NOT met"
print(f"median p50: peakready {a:.0f} µs, wrk {b:.0f} µs, difference {a - b:+.0f} µs (target: within 50 µs of wrk: {verdict})")
PY
    ;;
esac
say "results kept in $OUT"
