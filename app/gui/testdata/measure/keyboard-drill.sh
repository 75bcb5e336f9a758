#!/bin/bash
# keyboard-drill.sh BINARY: a practised person's keyboard-only drill, 3
# custodians and quorum 2 with software keys, on the real binary under
# Xvfb, driven by xdotool (apt-get install xdotool x11-apps).
#
# Each key is pressed as a person does, KEY_DELAY seconds apart (default
# 0.3). After the key that acts, the script waits until the window shows a
# new picture and keeps it (the app's own time, which the person waits
# too), then READ seconds (default 2) of reading before the next screen's
# keys. It prints one line per screen and the totals, then checks the
# drill's end: both transcripts closed with the witness's sign-off and the
# drill HSM's verdict on screen are what the person would see.
set -euo pipefail
bin=$(readlink -f "$1")
KEY_DELAY=${KEY_DELAY:-0.3}
READ=${READ:-2}
work=$(mktemp -d)
trap 'kill "$app" 2>/dev/null || true; wait "$app" 2>/dev/null || true; kill "$xvfb" 2>/dev/null || true; rm -rf "$work"' EXIT
disp=:$((50 + RANDOM % 40))
Xvfb "$disp" -screen 0 1280x1024x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
export DISPLAY=$disp
sleep 1
(cd "$work" && HOME="$work/home" exec "$bin" >"$work/app.log" 2>&1) &
app=$!
win=""
for _ in $(seq 100); do
	win=$(xdotool search --name '^Custodian$' 2>/dev/null | head -1 || true)
	[ -n "$win" ] && break
	sleep 0.2
done
[ -n "$win" ] || { echo "keyboard-drill: no window"; cat "$work/app.log"; exit 1; }
sleep 3 # the first frame
xdotool windowfocus --sync "$win"

# shot captures the window into the file $1.
shot() { xwd -silent -id "$win" >"$1"; }

# same tells whether two captures show the same screen: fewer than 1000
# bytes differ (the text cursor blinks in the focused field, about 150
# bytes; a focus ring or a new screen changes far more).
same() {
	[ "$(cmp -l "$1" "$2" 2>/dev/null | head -1000 | wc -l)" -lt 1000 ]
}

# settle waits until the window shows a screen other than the one in $1
# and keeps it for 0.4 s; the capture is left in $work/now.xwd.
settle() {
	local before=$1
	for _ in $(seq 300); do
		shot "$work/a.xwd"
		if ! same "$work/a.xwd" "$before"; then
			sleep 0.4
			shot "$work/b.xwd"
			if same "$work/a.xwd" "$work/b.xwd"; then
				mv "$work/b.xwd" "$work/now.xwd"
				return
			fi
		fi
		sleep 0.1
	done
	echo "keyboard-drill: the window did not change" >&2
	exit 1
}

keys_total=0
screens=0
start=$(date +%s.%N)
# step NAME KEY...: press the keys, wait for the screen they bring, read it.
step() {
	local name=$1
	shift
	local t0 k
	t0=$(date +%s.%N)
	shot "$work/before.xwd"
	for k in "$@"; do
		xdotool key --clearmodifiers "$k"
		keys_total=$((keys_total + 1))
		sleep "$KEY_DELAY"
	done
	settle "$work/before.xwd"
	# Reading time; a screen still changing (work finishing) is read again.
	while :; do
		sleep "$READ"
		shot "$work/again.xwd"
		same "$work/again.xwd" "$work/now.xwd" && break
		settle "$work/now.xwd"
	done
	screens=$((screens + 1))
	[ -z "${SHOTS:-}" ] || cp "$work/now.xwd" "$SHOTS/$(printf %02d "$screens").xwd"
	printf '%2d  %-50s %-30s %5.1f s\n' "$screens" "$name" "$*" "$(echo "$(date +%s.%N) - $t0" | bc)"
}

echo "screen  what the person does                               keys                               time"
step "Home: Ctrl+D, the drill set-up" ctrl+d
step "Drill set-up: start (3 custodians, quorum 2, soft)" ctrl+Return
for k in 1 2 3; do
	step "Custodian $k: generate the key" ctrl+Return
	step "Custodian $k: enrolled, OK" ctrl+Return
done
step "Write the operator package" ctrl+Return
step "Operator package written, OK" ctrl+Return
step "Operator: activate the drill HSM" ctrl+Return
for k in 1 2 3; do
	step "Self-test of custodian $k" Tab space
done
step "Prove the quorum" ctrl+Return
step "Witness sign-off (name filled in)" ctrl+Return
step "Sign off: the recovery starts" ctrl+Return
step "Operator: start recovery on the drill HSM" ctrl+Return
step "It matches what the HSM returned" ctrl+Return
for k in 1 2; do
	step "Custodian $k: open my share" ctrl+Return
	step "Share opened, OK" ctrl+Return
done
step "Build the restore blob" ctrl+Return
step "Write the restore blob" ctrl+Return
step "Operator: upload the blob to the drill HSM" ctrl+Return
step "Witness sign-off" ctrl+Return
step "Sign off: the end screen and final digest" ctrl+Return
total=$(echo "$(date +%s.%N) - $start" | bc)
printf 'total: %d screens, %d key presses (a Ctrl+key chord counts once), %.0f s\n' "$screens" "$keys_total" "$total"

xwd -silent -id "$win" >"${END_XWD:-/tmp/keyboard-drill-end.xwd}"

# The drill really ran to its end: its transcript verifies and is signed off.
mapfile -t transcripts < <(find "$work" -name '*.jsonl' | sort)
echo "transcripts: ${#transcripts[@]}"
ok=1
for t in "${transcripts[@]}"; do
	v=$("$bin" transcript verify "$t" 2>&1 || true)
	if grep -q "signed off" <<<"$v"; then echo "  signed off: ${t#"$work"/}"; else echo "  NOT signed off: ${t#"$work"/}: $v"; ok=0; fi
done
[ "${#transcripts[@]}" -ge 1 ] && [ "$ok" = 1 ] || { echo "keyboard-drill: the drill did not end"; exit 1; }
