#!/usr/bin/env bash
# test_sigma_corpus.sh - SigmaHQ's rules, unchanged (../shared/corpora/sigma):
#   1. rules/windows and rules/linux compile: at least 95% of them; every
#      rule that does not is listed with its file:line:col and reason, and
#      compiled + failed accounts for every document of every file;
#   2. SigmaHQ's regression samples: for every sample whose rule compiles,
#      `modus scan` on the .evtx raises that rule (info.yml names it by id);
#   3. specificity: over all of them at once, no Windows rule fires on more
#      than a few samples (a rule that matched everything would fire on all),
#      and the alerts are the same with the prefilter and programs off;
#   4. `modus rules score` scores every rule (its distribution is in README).
source "$(dirname "$0")/lib.sh"
S=$SHARED/corpora/sigma
if [ ! -d "$S/rules/windows" ]; then
    echo "skip: no $S" >&2
    finish
    exit
fi

# --- 1. compile -----------------------------------------------------------------------
"$MODUS" rules check "$S/rules/windows" "$S/rules/linux" >"$TMP/check.out" 2>"$TMP/check.err"
line=$(tail -1 "$TMP/check.out")
ok=$(echo "$line" | awk '{print $1}')
bad=$(echo "$line" | awk '{print $4}')
docs=$(find "$S/rules/windows" "$S/rules/linux" -name '*.yml' -exec grep -c '^title:' {} + |
    awk -F: '{s+=$NF} END{print s}')
echo "SigmaHQ windows+linux: $line (of $docs rule documents)"
expect_eq "every document is compiled or reported" "$((ok + bad))" "$docs"
check "at least 95% compile ($ok of $docs)" test $((ok * 100)) -ge $((docs * 95))
# every failure: FILE:LINE:COL: reason (printed so the list is in the log)
nerr=$(grep -c '\.yml:[0-9]*:[0-9]*: ' "$TMP/check.err")
expect_eq "each failure has file:line:col and a reason" "$nerr" "$bad"
grep '\.yml:[0-9]*:[0-9]*: ' "$TMP/check.err" | sed "s|$S/||; s/^/  not compiled: /"

# --- 2. regression samples ------------------------------------------------------------
# rule id -> file, once
grep -r --include='*.yml' -m1 '^id: ' "$S/rules" "$S/rules-emerging-threats" \
    "$S/rules-threat-hunting" | sed 's/:id: */ /' | awk '{print $2, $1}' >"$TMP/ids"
pass=0 miss=0 nocomp=0
while IFS= read -r info; do
    id=$(awk '/^rule_metadata:/{f=1} f && /- id:/{print $3; exit}' "$info")
    rule=$(awk -v id="$id" '$1 == id {print $2; exit}' "$TMP/ids")
    for evtx in "$(dirname "$info")"/*.evtx; do
        [ -f "$evtx" ] || continue
        if [ -z "$rule" ] || ! "$MODUS" rules check "$rule" >/dev/null 2>&1; then
            nocomp=$((nocomp + 1))
            echo "  sample without a compiled rule: ${evtx#$S/} (rule ${rule#$S/})"
            continue
        fi
        n=$("$MODUS" scan -q --format json --rules "$rule" "$evtx" 2>/dev/null |
            jq -r --arg id "$id" 'select(.rule.id == $id) | .rule.id' | wc -l)
        if [ "$n" -ge 1 ]; then
            pass=$((pass + 1))
        else
            miss=$((miss + 1))
            echo "FAIL: regression sample ${evtx#$S/} does not raise ${rule#$S/}" >&2
        fi
    done
done < <(find "$S/regression_data" -name info.yml | sort)
echo "regression samples: $pass raise their rule, $miss do not, $nocomp without a compiled rule"
expect_eq "every sample of a compiled rule raises it" "$miss" 0
check "the samples were found ($pass)" test "$pass" -ge 190

# --- 3. specificity ---------------------------------------------------------------------
find "$S/regression_data" -name '*.evtx' | sort >"$TMP/evtx.list"
xargs "$MODUS" scan -q --format json --rules "$S/rules/windows" <"$TMP/evtx.list" \
    >"$TMP/all.json" 2>/dev/null
samples=$(wc -l <"$TMP/evtx.list")
alerts=$(wc -l <"$TMP/all.json")
rules_fired=$(jq -r .rule.id "$TMP/all.json" | sort -u | wc -l)
echo "all Windows rules over the $samples samples: $alerts alerts from $rules_fired rules"
check "fewer than 2 alerts per sample ($alerts for $samples)" test "$alerts" -lt $((samples * 2))
top=$(jq -r .rule.id "$TMP/all.json" | sort | uniq -c | sort -rn | head -1 | awk '{print $1}')
check "no rule fires more than 10 times (the busiest: $top)" test "$top" -le 10
# the shared predicate table and programs answer as the tree walker on every rule
MODUS_PREFILTER=off xargs "$MODUS" scan -q --format json --rules "$S/rules/windows" <"$TMP/evtx.list" \
    >"$TMP/off.json" 2>/dev/null
key() { jq -c '[.rule.id, .events[0].winlog.record_id, .events[0]."@timestamp"]' "$1" | sort; }
expect_eq "the same alerts with the prefilter and programs off" "$(key "$TMP/all.json" | md5sum)" \
    "$(key "$TMP/off.json" | md5sum)"

# --- 4. robustness scores ------------------------------------------------------------------
"$MODUS" rules score --json "$S/rules/windows" "$S/rules/linux" >"$TMP/score.json" 2>/dev/null
expect_eq "every compiled rule is scored" \
    "$(jq -r .robustness.score "$TMP/score.json" | grep -Ec '^[1-5][AUK]$')" "$ok"
"$MODUS" rules score "$S/rules/windows" "$S/rules/linux" 2>/dev/null | tail -7
finish
