# Sourced by benches/peers.sh when NEW_CONN=1 (it has started nginx on $port and set $work, $BIN,
# $CONNS, $THREADS, $DURATION, $ROUNDS). A new TCP connection per request for every tool, so
# what is compared is the cost of a connection: wrk -H "Connection: close", `peakready quick
# --no-keepalive`, and `peakready run` joining at JOIN_RATE/s with one join step (open model,
# every join timed). With TLS=1 the target is nginx's https server and the peer is h2load --h1
# (a new TLS connection per request), see peers.sh.

ok_url="http://127.0.0.1:$port/ok"
if [ "${TLS:-0}" = 1 ]; then ok_url="https://127.0.0.1:$tls_port/ok"; fi

run_scenario() { # file [target lines]: one join step GET /ok at JOIN_RATE for DURATION s, then hold WATCH
  local base=${ok_url%/ok}
  cat > "$1" <<EOF
# Written by benches/peers.sh NEW_CONN=1: one new connection per viewer, one timed request.
name: new-connections
target:
  base_url: $base
  allow_hosts: [127.0.0.1]
  timeout: 10s
${2:-}
regions:
  - { name: loopback, weight: 1 }
load:
  max_viewers: $(( JOIN_RATE * 4 + 1000 ))
  max_joins_per_sec: $JOIN_RATE
  phases:
    - { name: joins, duration: ${DURATION}s, joins_per_sec: $JOIN_RATE }
viewer:
  join:
    - { name: ok, method: GET, path: /ok, expect_status: 200 }
  watch:
    protocol: none
    duration: $WATCH
EOF
}
scen="$work/new-conn.yaml"
scen_full="$work/new-conn-full.yaml"
if [ "${TLS:-0}" = 1 ]; then
  run_scenario "$scen" "$(printf '  insecure_tls: true\n  tls: { resume: true }')"
  run_scenario "$scen_full" "$(printf '  insecure_tls: true\n  tls: { resume: false }')"
else
  run_scenario "$scen"
fi
for s in "$scen" ${TLS:+"$scen_full"}; do
  [ -f "$s" ] || continue
  "$BIN" validate "$s" > "$work/validate.log" 2>&1 || { cat "$work/validate.log"; exit 2; }
done

tls_flag=()
[ "${TLS:-0}" = 1 ] && tls_flag=(--insecure --tls-resume)

nc_tools=(wrk pk-quick pk-run)
if [ "${TLS:-0}" = 1 ]; then nc_tools=(h2load pk-quick pk-run pk-run-full); fi
# wrk2 (wrk with -R: constant throughput, latency from each request's intended start) is the
# open-model peer of `run`: the same offered rate, so the same parking between arrivals. Not in
# Debian; WRK2=path/to/wrk2 adds it (git clone https://github.com/giltene/wrk2 && make).
WRK2=${WRK2:-$(command -v wrk2 || true)}
if [ -n "$WRK2" ] && [ "${TLS:-0}" != 1 ]; then nc_tools=(wrk wrk2 pk-quick pk-run); fi
# oha (Rust, tokio + hyper: the peer built like peakready) with --disable-keepalive, closed model
# on CONNS connections (oha) and rate-limited to JOIN_RATE with --latency-correction (oha-q, its
# open model). Not in Debian; OHA=path (or oha on PATH) adds both: cargo install oha --locked.
OHA=${OHA:-$(command -v oha || true)}
if [ -n "$OHA" ] && [ "${TLS:-0}" != 1 ]; then nc_tools+=(oha oha-q); fi
[ -n "$BIN_B" ] && nc_tools+=(pkB-quick pkB-run)

nc_run() { # tool round → one row in $work/nc-rows
  local tool=$1 round=$2 out="$work/nc-out-$1-$2" t="$work/nc-time-$1-$2" bin=$BIN cmd
  case $tool in pkB-*) bin=$BIN_B ;; esac
  case $tool in
    wrk) cmd=(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" -H "Connection: close" "$ok_url") ;;
    wrk2) cmd=("$WRK2" -t"$THREADS" -c"$CONNS" -R"$JOIN_RATE" -d"${DURATION}s" -H "Connection: close" "$ok_url") ;;
    oha) cmd=("$OHA" --disable-keepalive -c "$CONNS" -z "${DURATION}s" --no-tui --output-format json "$ok_url") ;;
    oha-q) cmd=("$OHA" --disable-keepalive -c "$CONNS" -q "$JOIN_RATE" --latency-correction -z "${DURATION}s" --no-tui --output-format json "$ok_url") ;;
    # A request count, not -D: h2load 1.52 with --h1 and Connection: close never exits after
    # -D's duration. H2LOAD_N [2000 × DURATION]; the figures are per connection either way.
    h2load) cmd=(timeout $(( DURATION * 20 + 30 )) h2load --h1 -t"$THREADS" -c"$CONNS" -n "${H2LOAD_N:-$(( DURATION * 2000 ))}" -H "Connection: close" "$ok_url") ;;
    *-quick) cmd=("$bin" quick "$ok_url" -c "$CONNS" -z "${DURATION}s" --no-keepalive "${tls_flag[@]}" --json) ;;
    *-run) cmd=("$bin" run "$scen" --seed 1 --quiet --out "$work/nc-run-$tool-$round") ;;
    *-run-full) cmd=("$bin" run "$scen_full" --seed 1 --quiet --out "$work/nc-run-$tool-$round") ;;
  esac
  [ "${TLS:-0}" = 1 ] && : > "$work/tls-access.log"
  printf '+'; printf ' %q' "${cmd[@]}"; printf '\n'
  local rc=0
  /usr/bin/time -f "%U %S %M %e" -o "$t" "${cmd[@]}" > "$out" 2> "$out.err" || rc=$?
  # run exits 1 when an SLO failed or the run aborted, with results written; other tools 0.
  if [ "$rc" -ge 2 ] || { [ "$rc" = 1 ] && [[ $tool != *-run* ]]; }; then
    echo "peers.sh: $tool failed (exit $rc):" >&2; tail -5 "$out.err" >&2; exit 2
  fi
  python3 - "$tool" "$round" "$out" "$t" "$work/nc-run-$tool-$round" "$work/tls-access.log" >> "$work/nc-rows" <<'PY'
import json, os, re, sys
tool, rnd, out, tfile, rundir, tls_log = sys.argv[1:7]
u, s, rss, wall = open(tfile).read().split()[-4:]
text = open(out).read()
errors, lag, limited = 0, "-", "-"
if tool in ("wrk", "wrk2"):
    m = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", text)
    conns, secs = int(m.group(1)), float(m.group(2)) * {"s": 1.0, "ms": 1e-3, "m": 60.0}[m.group(3)]
    se = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = sum(map(int, se.groups())) if se else 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors += int(non2xx.group(1)) if non2xx else 0
elif tool in ("oha", "oha-q"):
    r = json.loads(text)
    codes = r["statusCodeDistribution"]
    conns, secs = sum(codes.values()), r["summary"]["total"]
    # Requests cut at -z are oha's "aborted due to deadline": by design, like quick's `cut`.
    errors = sum(v for k, v in r["errorDistribution"].items() if k != "aborted due to deadline")
    errors += sum(v for k, v in codes.items() if not k.startswith("2"))
elif tool == "h2load":
    m = re.search(r"finished in ([\d.]+)(s|ms)", text)
    secs = float(m.group(1)) * (1e-3 if m.group(2) == "ms" else 1.0)
    r = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", text)
    conns, errors = int(r.group(2)), int(r.group(3)) + int(r.group(4))
elif tool.endswith("-quick"):
    r = json.loads(text)
    o = r["overall"]
    # `cut`: requests still in flight at -z, cancelled by design (not in the error rate).
    errors = sum(v for k, v in o["errors"].items() if k != "cut")
    conns, secs = o["metrics"]["connect_ms"]["count"], r["duration_s"]
else:
    r = json.load(open(os.path.join(rundir, "results.json")))
    o, g = r["overall"], r["generator"]
    conns = o["metrics"]["connect_ms"]["count"]
    # Joins are offered during the phase only; the run then drains the last viewers' WATCH.
    secs = r["planned_duration_s"]
    errors = sum(v for k, v in o["errors"].items() if k != "cut") + o["joins"]["failed"]
    if o["joins"]["attempted"] != conns:
        errors += abs(o["joins"]["attempted"] - conns)
    lag, limited = f"{g['lag_p99_ms']:.2f}", "yes" if g["limited"] else "no"
resumed = "-"
if os.path.exists(tls_log):
    marks = open(tls_log).read().split()
    # nginx logs "r" for a resumed session, "." for a full handshake.
    resumed = f"{marks.count('r') / len(marks):.0%}" if marks else "0%"
print(tool, rnd, conns, f"{secs:.3f}", u, s, rss, wall, errors, lag, limited, resumed)
PY
}

echo "target: nginx (1 worker) at $ok_url, a new connection per request; $CONNS connections for the closed-model tools, peakready run at $JOIN_RATE joins/s holding each ${WATCH}; ${DURATION}s, $ROUNDS rounds"
echo "machine: $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
: > "$work/nc-rows"
for round in $(seq "$ROUNDS"); do
  for tool in "${nc_tools[@]}"; do nc_run "$tool" "$round"; done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${ROWS_OUT:-}" ]; then cp "$work/nc-rows" "$ROWS_OUT"; fi

python3 - "$work/nc-rows" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
hdr = f"{'tool':<11} {'round':>5} {'conns':>9} {'conn/s':>8} {'user s':>7} {'sys s':>7} {'conn/CPU-s':>10} {'user µs/c':>9} {'sys µs/c':>8} {'errors':>6} {'lag p99':>9} {'limited':>7} {'resumed':>7}"
print("\n" + hdr)
by = {}
for tool, rnd, conns, secs, u, s, rss, wall, errors, lag, limited, resumed in rows:
    conns, secs, u, s = int(conns), float(secs), float(u), float(s)
    rate = conns / secs if secs else 0.0
    per_cpu = conns / (u + s) if u + s > 0 else 0.0
    uc, sc = (u * 1e6 / conns, s * 1e6 / conns) if conns else (0.0, 0.0)
    by.setdefault(tool, []).append((rate, per_cpu, uc, sc))
    lag = f"{lag} ms" if lag != "-" else "-"
    print(f"{tool:<11} {rnd:>5} {conns:>9,} {rate:>8,.0f} {u:>7.2f} {s:>7.2f} {per_cpu:>10,.0f} {uc:>9.1f} {sc:>8.1f} {errors:>6} {lag:>9} {limited:>7} {resumed:>7}")
med = {t: [statistics.median(c) for c in zip(*v)] for t, v in by.items()}
base_name = "wrk" if "wrk" in med else "h2load"
base = med[base_name]
print(f"\nmedians (ratio to {base_name}; conn/s and conn per CPU-s: >1 is better; µs per connection: <1 is better)")
print(f"{'tool':<11} {'conn/s':>16} {'conn/CPU-s':>18} {'user µs/conn':>18} {'sys µs/conn':>18}")
r = lambda a, b: f"({a / b:.2f}x)" if b else ""
for t, (rate, per_cpu, uc, sc) in med.items():
    print(f"{t:<11} {rate:>8,.0f} {r(rate, base[0]):>7} {per_cpu:>10,.0f} {r(per_cpu, base[1]):>7} "
          f"{uc:>10.1f} {r(uc, base[2]):>7} {sc:>10.1f} {r(sc, base[3]):>7}")
if "wrk2" in med and "pk-run" in med:
    w2, pk = med["wrk2"], med["pk-run"]
    print(f"\npk-run beside wrk2 at the same offered rate (both open model): conn per CPU-s {r(pk[1], w2[1])}, "
          f"user µs/conn {r(pk[2], w2[2])}, sys µs/conn {r(pk[3], w2[3])}")
if "oha-q" in med and "pk-run" in med:
    oq, pk = med["oha-q"], med["pk-run"]
    print(f"pk-run beside oha -q at the same offered rate (both open model, both Rust/tokio): conn per CPU-s {r(pk[1], oq[1])}, "
          f"user µs/conn {r(pk[2], oq[2])}, sys µs/conn {r(pk[3], oq[3])}")
print("\nconn/s of pk-run (and wrk2, oha-q) is its offered JOIN_RATE when it keeps up (open model); compare it by CPU per connection.")
PY
