#!/bin/bash
# test_field_coverage.sh - the per-rule field coverage of Elastic's Linux
# rules (issues 12 and 15), judged from REAL captures: every live test writes
# what the sensor emitted into $LIVE_CAPTURE (ctest runs them first: the
# live_capture fixture). For each of Elastic's Linux behaviour rules
# (../shared/corpora/elastic-rules/behavior_rules.jsonl, os contains linux:
# 257), modus's own EQL parser lists the categories, actions and fields the
# query needs (tests/unit/rule_needs_dump.c); the captures give the
# (category, action) pairs and field paths the sensor emitted. Two gates:
#   satisfiable  every stage's category is seen with one of its actions;
#   every field  satisfiable, and every field the query reads was seen.
# The thresholds live in tests/live/field_coverage.gates (one place); the
# per-rule list of what is missing goes to $LIVE_CAPTURE/field_coverage.log.
. "$(dirname "$0")/../cli/lib.sh"
: "${RULE_NEEDS:?RULE_NEEDS must point at the rule_needs_dump driver}"
RULES_JSONL=$SHARED/corpora/elastic-rules/behavior_rules.jsonl
if [ ! -f "$RULES_JSONL" ]; then
    echo "SKIP: no corpus at $RULES_JSONL"
    exit 77
fi
if [ -z "${LIVE_CAPTURE:-}" ] || ! ls "$LIVE_CAPTURE"/*.ndjson >/dev/null 2>&1; then
    echo "SKIP: no real-kernel captures in LIVE_CAPTURE='${LIVE_CAPTURE:-}' (the live tests need root)"
    exit 77
fi
. "$(dirname "$0")/field_coverage.gates"
mkdir -p "$TMP/q"
# how the 257 are counted: the corpus's rules whose os list holds "linux"
python3 - "$RULES_JSONL" "$TMP/q" >"$TMP/names.tsv" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "linux" not in r.get("os", []):
        continue
    open("%s/%03d.eql" % (sys.argv[2], n), "w").write(r["query"])
    print("%03d\t%s\t%s" % (n, r["id"], r["name"]))
    n += 1
PY
total=$(wc -l <"$TMP/names.tsv")
echo "Elastic's Linux rules: $total of $(wc -l <"$RULES_JSONL") in behavior_rules.jsonl have \"linux\" in their os list"
"$RULE_NEEDS" "$TMP"/q/*.eql >"$TMP/needs.ndjson"
expect_eq "modus's parser compiles every one of them" "$(grep -c '"error"' "$TMP/needs.ndjson")" 0
LOG=$LIVE_CAPTURE/field_coverage.log
python3 - "$TMP/needs.ndjson" "$TMP/names.tsv" "$LOG" "$LIVE_CAPTURE"/*.ndjson >"$TMP/counts" <<'PY'
import fnmatch, json, os, sys
needs_file, names_file, log_file, captures = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
pairs, fields = set(), set()
def flatten(v, prefix):
    if isinstance(v, dict):
        for k, x in v.items():
            p = prefix + "." + k if prefix else k
            fields.add(p)
            flatten(x, p)
    elif isinstance(v, list):
        for x in v:
            flatten(x, prefix)
ndocs = 0
for c in captures:
    for line in open(c, errors="replace"):
        try:
            d = json.loads(line)
        except ValueError:
            continue
        # alerts carry events; the events themselves are what the sensor emitted
        docs = d.get("events", []) if d.get("event", {}).get("kind") == "alert" else [d]
        for e in docs:
            ndocs += 1
            ev = e.get("event", {})
            cats = ev.get("category", [])
            cats = cats if isinstance(cats, list) else [cats]
            for cat in cats:
                pairs.add((cat, ev.get("action")))
            flatten(e, "")
names = {}
for l in open(names_file):
    i, rid, name = l.rstrip("\n").split("\t", 2)
    names[i] = (rid, name)
def stage_ok(st):
    for cat, act in pairs:
        if st["category"] not in ("any", cat):
            continue
        if not st["actions"] or any(act and fnmatch.fnmatchcase(act.lower(), a.lower()) for a in st["actions"]):
            return True
    return False
sat = every = 0
lines = []
missing_fields = {}
for l in open(needs_file):
    r = json.loads(l)
    i = os.path.basename(r["file"]).split(".")[0]
    rid, name = names[i]
    if "error" in r:
        lines.append("%s  %s  ERROR %s" % (rid, name, r["error"]))
        continue
    bad_stages = ["%s/%s" % (s["category"], "|".join(s["actions"]) or "*") for s in r["stages"] if not stage_ok(s)]
    miss = sorted(f for f in set(r["fields"]) if f not in fields)
    for f in miss:
        missing_fields[f] = missing_fields.get(f, 0) + 1
    ok_sat = not bad_stages
    sat += ok_sat
    every += ok_sat and not miss
    if bad_stages or miss:
        lines.append("%s  %s\n    events not seen: %s\n    fields not seen: %s" % (rid, name, ", ".join(bad_stages) or "-", ", ".join(miss) or "-"))
with open(log_file, "w") as f:
    f.write("captures: %s (%d events)\n" % (" ".join(captures), ndocs))
    f.write("(category, action) pairs seen: %s\n" % ", ".join("%s/%s" % p for p in sorted(pairs, key=str)))
    f.write("satisfiable %d/%d, every field %d/%d\n\nfields not seen, by rules that read them:\n" % (sat, len(names), every, len(names)))
    for k, v in sorted(missing_fields.items(), key=lambda kv: -kv[1]):
        f.write("  %4d  %s\n" % (v, k))
    f.write("\nrules with something not seen:\n" + "\n".join(lines) + "\n")
print(sat, every, ndocs)
PY
read -r sat every ndocs <"$TMP/counts"
echo "captures: $ndocs events in $(ls "$LIVE_CAPTURE"/*.ndjson | wc -l) files; log: $LOG"
echo "satisfiable: $sat/$total (gate $MIN_SATISFIABLE); every field: $every/$total (gate $MIN_EVERY_FIELD)"
check "satisfiable rules: $sat >= $MIN_SATISFIABLE" [ "$sat" -ge "$MIN_SATISFIABLE" ]
check "rules with every field emitted: $every >= $MIN_EVERY_FIELD" [ "$every" -ge "$MIN_EVERY_FIELD" ]
finish
