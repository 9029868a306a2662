#!/usr/bin/env bash
# peakready `quick` beside wrk (and oha when installed) on the same loopback nginx target:
# same connections, same duration, same small file, interleaved A B A B so machine noise hits
# every tool alike. Prints per run and as medians: requests/s, p50, p99, requests per generator
# CPU-second (user+sys from /usr/bin/time) and peak RSS per connection, with ratios to wrk.
#
#   benches/peers.sh                     # 50 connections, 10 s, 3 rounds
#   CONNS=200 DURATION=15 ROUNDS=5 benches/peers.sh
#   RATE=20000 benches/peers.sh          # open model for peakready (wrk stays closed-model)
#   CONNS=1 benches/peers.sh             # added latency at idle (benches/scale.sh idle uses this)
#   NEW_CONN=1 benches/peers.sh          # a new connection per request: see below
#
# NEW_CONN=1: the cost of a connection, not of a request. nginx answers a 2-byte `return 200`
# and every tool opens a new TCP connection per request: wrk -H "Connection: close" (closed
# model), `peakready quick --no-keepalive` (closed model, same connections) and `peakready run`
# with one join step GET /ok at JOIN_RATE joins/s (open model: every join's connect, ttfb and
# join time recorded; each viewer then holds its connection WATCH, default 1s). Prints
# connections/s, connections per generator CPU-second, user and sys µs per connection, and the
# ratios to wrk. JOIN_RATE [3000]  WATCH [1s]. Set PEAKREADY_B=other/binary to add that binary's
# quick and run beside the first (before/after a change, interleaved like the rest). WRK2=path
# (or wrk2 on PATH) adds wrk2 -R JOIN_RATE, the open-model peer of `run` at the same offered rate
# (not in Debian: git clone https://github.com/giltene/wrk2 && make), and that ratio. OHA=path (or
# oha on PATH; cargo install oha --locked) adds oha --disable-keepalive, closed (-c CONNS) and
# rate-limited (-q JOIN_RATE --latency-correction): the peer built on tokio and hyper like peakready.
#
# NEW_CONN=1 TLS=1: the same over HTTPS, a new TLS connection per request, against nginx with a
# self-signed certificate made here (openssl, EC P-256), TLS_VERSION [1.3] or 1.2. The peer is
# h2load --h1 (Debian nghttp2-client; H2LOAD_N requests [2000 × DURATION]), which resumes TLS sessions; so `quick --tls-resume` and
# `run` with target.tls.resume: true are its like, and `run` with full handshakes (pk-run-full,
# the default) is printed beside them. nginx logs $ssl_session_reused: the resumed share of
# each tool's handshakes is printed from the server's side.
#
# THREADS (wrk -t) defaults to the cores, but never more than CONNS (wrk refuses that).
# ROWS_OUT=FILE keeps the per-run rows (tool round req/s p50_ms p99_ms cpu_s rss_kib requests).
#
# Needs: nginx, wrk, /usr/bin/time, python3 (Debian: apt-get install nginx wrk time).
# Load goes to 127.0.0.1 only; nginx is started here and stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

CONNS=${CONNS:-50}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-$(( $(nproc) < CONNS ? $(nproc) : CONNS ))}
BIN=${PEAKREADY:-target/release/peakready}
NEW_CONN=${NEW_CONN:-0}
JOIN_RATE=${JOIN_RATE:-3000}
WATCH=${WATCH:-1s}
BIN_B=${PEAKREADY_B:-}
TLS=${TLS:-0}
TLS_VERSION=${TLS_VERSION:-1.3}

for tool in nginx wrk python3; do
  command -v "$tool" >/dev/null || { echo "peers.sh: $tool is not installed (apt-get install nginx wrk)" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "peers.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }
if [ "$TLS" = 1 ]; then
  [ "$NEW_CONN" = 1 ] || { echo "peers.sh: TLS=1 needs NEW_CONN=1" >&2; exit 2; }
  for tool in h2load openssl; do
    command -v "$tool" >/dev/null || { echo "peers.sh: $tool is not installed (apt-get install nghttp2-client openssl)" >&2; exit 2; }
  done
fi
[ -x "$BIN" ] || cargo build --release --quiet

work=$(mktemp -d)
nginx_pid=""
cleanup() {
  if [ -n "$nginx_pid" ]; then kill "$nginx_pid" 2>/dev/null || true; wait "$nginx_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
tls_port=$(free_port)
mkdir -p "$work/www" "$work/tmp"
head -c 1024 /dev/zero | tr '\0' 'x' > "$work/www/small.txt"
cat > "$work/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process off;
error_log $work/error.log warn;
pid $work/nginx.pid;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  keepalive_requests 10000000;
  server {
    listen 127.0.0.1:$port;
    root $work/www;
    location = /ok { return 200 "ok"; }
  }
$(if [ "$TLS" = 1 ]; then cat <<TLSCONF
  log_format resumed '\$ssl_session_reused';
  server {
    listen 127.0.0.1:$tls_port ssl;
    ssl_certificate $work/cert.pem;
    ssl_certificate_key $work/key.pem;
    ssl_protocols TLSv$TLS_VERSION;
    ssl_session_cache shared:peers:10m;
    access_log $work/tls-access.log resumed;
    location = /ok { return 200 "ok"; }
  }
TLSCONF
fi)
}
EOF
if [ "$TLS" = 1 ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" 2> "$work/openssl.log" \
    || { cat "$work/openssl.log" >&2; exit 2; }
fi
nginx -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!
for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.1)" 2>/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:$port/small.txt"

if [ "$NEW_CONN" = 1 ]; then
  # shellcheck source=benches/new_conn.sh
  . benches/new_conn.sh
  exit 0
fi

tools=(peakready wrk)
command -v oha >/dev/null && tools+=(oha)

run_tool() { # tool round → appends a line to $work/rows: tool round rps p50_ms p99_ms cpu_s rss_kib
  local tool=$1 round=$2 out="$work/out-$1-$2" t="$work/time-$1-$2"
  case $tool in
    peakready) echo "+ $BIN quick $url -c $CONNS -z ${DURATION}s${RATE:+ --rate $RATE} --json" ;;
    wrk)       echo "+ wrk -t$THREADS -c$CONNS -d${DURATION}s --latency $url" ;;
    oha)       echo "+ oha -z ${DURATION}s -c $CONNS --no-tui --output-format json $url" ;;
  esac
  case $tool in
    peakready) /usr/bin/time -f "%U %S %M" -o "$t" "$BIN" quick "$url" -c "$CONNS" -z "${DURATION}s" ${RATE:+--rate "$RATE"} --json > "$out" ;;
    wrk)       /usr/bin/time -f "%U %S %M" -o "$t" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "$url" > "$out" ;;
    oha)       /usr/bin/time -f "%U %S %M" -o "$t" oha -z "${DURATION}s" -c "$CONNS" --no-tui --output-format json "$url" > "$out" ;;
  esac
  python3 - "$tool" "$round" "$out" "$t" >> "$work/rows" <<'PY'
import json, re, sys
tool, rnd, out, tfile = sys.argv[1:5]
text = open(out).read()
u, s, rss = open(tfile).read().split()[-3:]
cpu = float(u) + float(s)
def ms(v, unit):
    return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
if tool == "peakready":
    r = json.loads(text)
    o = r["overall"]; m = o["metrics"]["request_ms"]
    rps, p50, p99, n = o["requests"] / r["duration_s"], m["p50"], m["p99"], o["requests"]
elif tool == "wrk":
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    lat = dict((k, ms(v, unit)) for k, v, unit in re.findall(r"\s(50|99)%\s+([\d.]+)(us|ms|s)", text))
    p50, p99 = lat["50"], lat["99"]
    n = int(re.search(r"(\d+) requests in", text).group(1))
else:
    r = json.loads(text)
    rps = r["summary"]["requestsPerSec"]; p50 = r["latencyPercentiles"]["p50"] * 1e3; p99 = r["latencyPercentiles"]["p99"] * 1e3
    n = sum(r.get("statusCodeDistribution", {}).values())
print(tool, rnd, f"{rps:.1f}", f"{p50:.3f}", f"{p99:.3f}", f"{cpu:.2f}", rss, n)
PY
}

echo "target: nginx (1 worker) serving 1 KiB at $url; $CONNS connections, ${DURATION}s, $ROUNDS rounds, tools: ${tools[*]}"
echo "machine: $(nproc) cores, $(uname -r); $(wrk --version 2>&1 | head -1 | cut -c1-40)"
: > "$work/rows"
for round in $(seq "$ROUNDS"); do
  for tool in "${tools[@]}"; do run_tool "$tool" "$round"; done
done
if [ -n "${ROWS_OUT:-}" ]; then cp "$work/rows" "$ROWS_OUT"; fi

python3 - "$work/rows" "$CONNS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
conns = int(sys.argv[2])
print(f"\n{'tool':<10} {'round':>5} {'req/s':>10} {'p50':>9} {'p99':>9} {'CPU s':>7} {'req/CPU-s':>10} {'RSS MiB':>8} {'KiB/conn':>9}")
by = {}
for tool, rnd, rps, p50, p99, cpu, rss, n in rows:
    rps, p50, p99, cpu, rss, n = float(rps), float(p50), float(p99), float(cpu), int(rss), int(n)
    per_cpu = n / cpu if cpu > 0 else 0.0
    by.setdefault(tool, []).append((rps, p50, p99, per_cpu, rss))
    print(f"{tool:<10} {rnd:>5} {rps:>10.0f} {p50:>6.3f} ms {p99:>6.3f} ms {cpu:>7.2f} {per_cpu:>10.0f} {rss/1024:>8.1f} {rss/conns:>9.1f}")
med = {t: [statistics.median(col) for col in zip(*v)] for t, v in by.items()}
base = med.get("wrk")
print(f"\nmedians (ratio to wrk; >1 is better for req/s and req/CPU-s, <1 is better for latency and memory)")
print(f"{'tool':<10} {'req/s':>16} {'p50':>18} {'p99':>18} {'req/CPU-s':>18} {'KiB/conn':>16}")
for t, (rps, p50, p99, per_cpu, rss) in med.items():
    r = lambda a, b: f"({a / b:.2f}x)" if b else ""
    print(f"{t:<10} {rps:>8.0f} {r(rps, base[0]):>7} {p50:>7.3f} ms {r(p50, base[1]):>7} {p99:>7.3f} ms {r(p99, base[2]):>7} "
          f"{per_cpu:>9.0f} {r(per_cpu, base[3]):>8} {rss/conns:>7.1f} {r(rss, base[4]):>8}")
PY
