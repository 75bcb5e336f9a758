#!/bin/sh
# home-rss.sh BINARY [SECONDS]: resident memory of the Custodian GUI on its
# home screen under Xvfb (Mesa's default driver, llvmpipe, unless
# GALLIUM_DRIVER says otherwise), read from /proc after SECONDS (default
# 30) at Home. Prints VmRSS, its anonymous and file-backed parts, the
# largest mappings and the Go heap at the last garbage collection
# (GODEBUG=gctrace=1). A fresh HOME, so no saved window size or theme.
set -eu
bin=$1
wait=${2:-30}
home=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$home" "$log"' EXIT
HOME=$home GODEBUG=gctrace=1 xvfb-run -a -s "-screen 0 1280x1024x24" "$bin" >"$log" 2>&1 &
runner=$!
pid=""
for _ in $(seq 50); do
	pid=$(pgrep -f -n -x "$bin" || true)
	[ -n "$pid" ] && break
	sleep 0.2
done
[ -n "$pid" ] || { echo "home-rss: $bin did not start"; cat "$log"; exit 1; }
sleep "$wait"
grep -E '^(VmRSS|RssAnon|RssFile|RssShmem)' /proc/"$pid"/status
echo "largest resident mappings (kB):"
awk '/^[0-9a-f]+-[0-9a-f]+ /{name=$6; if (name=="") name="[anon]"} /^Rss:/{rss[name]+=$2} END{for (n in rss) print rss[n], n}' /proc/"$pid"/smaps | sort -rn | head -8
echo "last GCs:"
grep '^gc ' "$log" | tail -2
kill "$pid"
wait "$runner" 2>/dev/null || true
