#!/bin/sh
# Static checks of the monitoring stack (monitoring/) with the real tools,
# no network and no docker:
#   1. promtool check config monitoring/prometheus.yml (and the rule file
#      it names), promtool check rules monitoring/alerts.yml;
#   2. promtool test rules tests/monitoring/alerts_test.yml: each alert fires
#      on synthetic series when it should and not for a healthy instance;
#   3. monitoring/docker-compose.yml is YAML with the services minidb,
#      prometheus and grafana, and the files it builds and mounts exist;
#   4. the Grafana dashboard JSON parses, every panel has a query, every
#      query is valid PromQL (promtool, on a generated rule file) and names
#      only series listed in tests/monitoring/metric-names.txt (the metrics
#      contract); the alerting rules likewise (plus Prometheus's own `up`).
# Exit status: 0 all passed, 1 a check failed, 77 promtool or both python3
# and node are missing (the test cannot run here).
#
# PromQL and Grafana variables ($__rate_interval) are kept literal in single
# quotes on purpose throughout:
# shellcheck disable=SC2016
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

mon=monitoring
names_file=tests/monitoring/metric-names.txt
dashboard=$mon/grafana/dashboards/minidb.json
compose=$mon/docker-compose.yml
# Every tool call is bounded; promtool and python answer in well under a
# second here.
limit="timeout 60"
failures=0

fail() {
	echo "check.sh: FAIL: $*" >&2
	failures=$((failures + 1))
}
pass() {
	echo "check.sh: ok: $*"
}

if ! command -v promtool >/dev/null 2>&1; then
	echo "check.sh: promtool not found (Debian package prometheus; scripts/install-deps.sh installs it)" >&2
	exit 77
fi
have_python=0
have_pyyaml=0
if command -v python3 >/dev/null 2>&1; then
	have_python=1
	python3 -c "import yaml" >/dev/null 2>&1 && have_pyyaml=1
fi
have_node=0
command -v node >/dev/null 2>&1 && have_node=1
if [ $have_python -eq 0 ] && [ $have_node -eq 0 ]; then
	echo "check.sh: neither python3 nor node found: cannot parse the dashboard JSON" >&2
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/minidb-monitoring.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

# --- 1 and 2: promtool ------------------------------------------------------
if $limit promtool check config "$mon/prometheus.yml" >"$tmp/out" 2>&1; then
	pass "promtool check config $mon/prometheus.yml"
else
	cat "$tmp/out" >&2
	fail "promtool check config $mon/prometheus.yml"
fi
if $limit promtool check rules "$mon/alerts.yml" >"$tmp/out" 2>&1; then
	pass "promtool check rules $mon/alerts.yml"
else
	cat "$tmp/out" >&2
	fail "promtool check rules $mon/alerts.yml"
fi
if $limit promtool test rules tests/monitoring/alerts_test.yml >"$tmp/out" 2>&1; then
	pass "promtool test rules tests/monitoring/alerts_test.yml"
else
	cat "$tmp/out" >&2
	fail "promtool test rules tests/monitoring/alerts_test.yml"
fi

# --- 3: docker-compose.yml ---------------------------------------------------
if [ $have_pyyaml -eq 1 ]; then
	if $limit python3 - "$compose" <<'EOF'; then
import json, os, sys, yaml
path = sys.argv[1]
base = os.path.dirname(path)
with open(path) as f:
    doc = yaml.safe_load(f)
errors = []
services = doc.get("services") if isinstance(doc, dict) else None
if not isinstance(services, dict):
    sys.exit("%s: no services mapping" % path)
want = {"minidb", "prometheus", "grafana"}
if set(services) != want:
    errors.append("services are %s, expected %s" % (sorted(services), sorted(want)))
build = (services.get("minidb") or {}).get("build") or {}
if not isinstance(build, dict):
    errors.append("minidb.build must be a mapping with context and dockerfile")
else:
    ctx = os.path.join(base, build.get("context", "."))
    dockerfile = os.path.join(ctx, build.get("dockerfile", "Dockerfile"))
    if os.path.normpath(dockerfile) != os.path.normpath("deploy/Dockerfile"):
        errors.append("minidb is built from %s, expected deploy/Dockerfile" % dockerfile)
    if not os.path.isfile(dockerfile):
        errors.append("%s does not exist" % dockerfile)
# Every bind mount (a volume whose source starts with . or /) must exist.
for name, svc in services.items():
    for vol in (svc or {}).get("volumes", []) or []:
        src = vol.split(":")[0] if isinstance(vol, str) else vol.get("source", "")
        if src.startswith("."):
            if not os.path.exists(os.path.join(base, src)):
                errors.append("%s mounts %s, which does not exist" % (name, src))
# Grafana needs no clicks: the provider's path is where the dashboards are
# mounted, the data source has the uid the dashboard's panels name, and
# Prometheus scrapes the minidb service on its metrics port.
def load(p):
    with open(os.path.join(base, p)) as f:
        return yaml.safe_load(f)
targets = {}
for vol in (services.get("grafana") or {}).get("volumes", []) or []:
    if isinstance(vol, str) and vol.count(":") >= 1:
        targets[os.path.normpath(vol.split(":")[0])] = vol.split(":")[1]
prov = load("grafana/provisioning/dashboards/minidb.yml")
paths = [pr["options"]["path"] for pr in prov["providers"]]
if targets.get("grafana/dashboards") not in paths:
    errors.append("grafana mounts ./grafana/dashboards at %s, the provider reads %s"
                  % (targets.get("grafana/dashboards"), paths))
if targets.get("grafana/provisioning") != "/etc/grafana/provisioning":
    errors.append("grafana/provisioning is not mounted at /etc/grafana/provisioning")
uids = {ds.get("uid") for ds in load("grafana/provisioning/datasources/prometheus.yml")["datasources"]}
with open(os.path.join(base, "grafana/dashboards/minidb.json")) as f:
    dash = json.load(f)
used = {(obj.get("datasource") or {}).get("uid")
        for panel in dash["panels"] for obj in [panel] + panel.get("targets", [])} - {None}
if used - uids:
    errors.append("the dashboard uses data source uid(s) %s, provisioned: %s"
                  % (sorted(used - uids), sorted(uids)))
scrape = [t for sc in load("prometheus.yml")["scrape_configs"]
          for st in sc.get("static_configs", []) for t in st.get("targets", [])]
if "minidb:2112" not in scrape:
    errors.append("prometheus.yml does not scrape minidb:2112 (targets: %s)" % scrape)
for e in errors:
    print("%s: %s" % (path, e), file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
		pass "$compose: YAML with services minidb, prometheus, grafana; mounted files exist; Grafana provisioning matches (python3 yaml)"
	else
		fail "$compose"
	fi
else
	# No YAML library: a structural check of the top-level services block
	# (keys indented by exactly one level under `services:`).
	found=$(awk '
		/^services:[[:space:]]*$/ { in_s = 1; next }
		/^[^[:space:]#]/ { in_s = 0 }
		in_s && /^  [A-Za-z0-9_.-]+:[[:space:]]*$/ { sub(/^  /, ""); sub(/:.*/, ""); print }
	' "$compose" | sort | tr '\n' ' ')
	if [ "$found" = "grafana minidb prometheus " ]; then
		pass "$compose: services minidb, prometheus, grafana (structural check; no YAML library)"
	else
		fail "$compose: services are '$found', expected 'grafana minidb prometheus '"
	fi
fi

# --- 4: dashboard and alert queries --------------------------------------------
# Dashboard queries, one per line, prefixed by the panel title; a panel (other
# than a row) without a query is an error.
if [ $have_python -eq 1 ]; then
	$limit python3 - "$dashboard" >"$tmp/dash.tsv" <<'EOF' || fail "$dashboard does not parse or has a panel without a query"
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
def walk(panels):
    for p in panels:
        yield p
        yield from walk(p.get("panels", []))
bad = 0
for p in walk(d["panels"]):
    if p.get("type") == "row":
        continue
    exprs = [t.get("expr", "") for t in p.get("targets", [])]
    if not exprs or not all(e.strip() for e in exprs):
        print("panel %r has no query" % p.get("title"), file=sys.stderr)
        bad = 1
    for e in exprs:
        print("%s\t%s" % (p.get("title"), " ".join(e.split())))
sys.exit(bad)
EOF
else
	$limit node - "$dashboard" >"$tmp/dash.tsv" <<'EOF' || fail "$dashboard does not parse or has a panel without a query"
const d = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
let bad = 0;
const walk = (ps) => ps.flatMap((p) => [p, ...walk(p.panels || [])]);
for (const p of walk(d.panels)) {
	if (p.type === "row") continue;
	const exprs = (p.targets || []).map((t) => t.expr || "");
	if (!exprs.length || !exprs.every((e) => e.trim())) {
		console.error(`panel ${JSON.stringify(p.title)} has no query`);
		bad = 1;
	}
	for (const e of exprs) console.log(`${p.title}\t${e.split(/\s+/).join(" ")}`);
}
process.exit(bad);
EOF
fi
ndash=$(wc -l <"$tmp/dash.tsv")
if [ "$ndash" -gt 0 ]; then
	pass "$dashboard parses: $ndash queries"
else
	fail "$dashboard: no queries found"
fi

# Alert expressions, one per line. Without PyYAML, the `expr:` lines (the
# file keeps each expression on one line; checked by counting).
if [ $have_pyyaml -eq 1 ]; then
	$limit python3 - "$mon/alerts.yml" >"$tmp/alerts.tsv" <<'EOF' || fail "$mon/alerts.yml: cannot read the expressions"
import sys, yaml
with open(sys.argv[1]) as f:
    doc = yaml.safe_load(f)
for g in doc["groups"]:
    for r in g["rules"]:
        print("%s\t%s" % (r.get("alert") or r.get("record"), " ".join(str(r["expr"]).split())))
EOF
else
	sed -n 's/^[[:space:]]*expr:[[:space:]]*/alert\t/p' "$mon/alerts.yml" >"$tmp/alerts.tsv"
	if [ "$(wc -l <"$tmp/alerts.tsv")" -ne "$(grep -c '^[[:space:]]*- alert:' "$mon/alerts.yml")" ]; then
		fail "$mon/alerts.yml: an expression spans several lines; keep each on one line"
	fi
fi

# Series names a PromQL expression reads. PromQL has no parser on the
# command line (promtool only says yes or no), so this strips what is not a
# series name, in order: Grafana variables, string literals, label matchers,
# ranges and subqueries, grouping clauses (by, without, on, ignoring,
# group_left, group_right with their label lists), function and aggregation
# names (an identifier followed by "("), then keeps identifier tokens that
# are not numbers, durations or keywords. One name per line.
series_names() {
	sed -E \
		-e 's/\$\{?[A-Za-z0-9_]+\}?//g' \
		-e 's/"([^"\\]|\\.)*"//g' -e "s/'([^'\\\\]|\\\\.)*'//g" -e 's/`[^`]*`//g' \
		-e 's/\{[^}]*\}//g' \
		-e 's/\[[^]]*\]//g' \
		-e 's/(^|[^A-Za-z0-9_:])(by|without|on|ignoring|group_left|group_right)[[:space:]]*\([^)]*\)/\1 /g' \
		-e 's/[A-Za-z_][A-Za-z0-9_]*[[:space:]]*\(/(/g' |
		grep -oE '[A-Za-z_:][A-Za-z0-9_:]*|[0-9][A-Za-z0-9_.]*' |
		grep -vE '^[0-9]' |
		grep -vixE 'and|or|unless|bool|offset|inf|nan|group_left|group_right' || true
}

# The extractor must find names, or the comparison below proves nothing.
got=$(printf '%s\n' 'histogram_quantile(0.99, sum by (le, method) (rate(request_duration_seconds_bucket{method="GET"}[$__rate_interval]))) > bool 0.1' | series_names | tr '\n' ' ')
[ "$got" = "request_duration_seconds_bucket " ] || fail "series_names self-test: got '$got'"
got=$(printf '%s\n' 'sum(rate(no_such_metric[5m])) by (method) / on(instance) group_left minidb_keys offset 5m' | series_names | tr '\n' ' ')
[ "$got" = "no_such_metric minidb_keys " ] || fail "series_names self-test: got '$got'"

grep -vE '^[[:space:]]*(#|$)' "$names_file" | sort -u >"$tmp/known"
# Prometheus records `up` for every scrape target; the alerts may use it,
# the dashboard shows only what minidb exports.
{
	cat "$tmp/known"
	echo up
} | sort -u >"$tmp/known_alerts"

check_names() { # file.tsv known-list what
	bad=0
	while IFS="$(printf '\t')" read -r title expr; do
		for n in $(printf '%s\n' "$expr" | series_names); do
			if ! grep -qxF "$n" "$2"; then
				echo "check.sh: FAIL: $3: '$title' queries '$n', which is not in $names_file: $expr" >&2
				bad=1
			fi
		done
	done <"$1"
	return $bad
}
if check_names "$tmp/dash.tsv" "$tmp/known" "$dashboard"; then
	pass "$dashboard: every query names only series in $names_file"
else
	fail "$dashboard queries series minidb does not export"
fi
if check_names "$tmp/alerts.tsv" "$tmp/known_alerts" "$mon/alerts.yml"; then
	pass "$mon/alerts.yml: every rule names only series in $names_file (or up)"
else
	fail "$mon/alerts.yml queries series minidb does not export"
fi

# The dashboard's queries are valid PromQL: promtool checks them as recording
# rules, Grafana's interval variables replaced by durations.
{
	echo "groups:"
	echo "  - name: dashboard"
	echo "    rules:"
	i=0
	while IFS="$(printf '\t')" read -r title expr; do
		i=$((i + 1))
		e=$(printf '%s\n' "$expr" |
			sed -e 's/\$__rate_interval/1m/g; s/\$__interval/1m/g; s/\$__range/1h/g' -e "s/'/''/g")
		echo "      - record: dashboard:query_$i"
		echo "        expr: '$e'"
	done <"$tmp/dash.tsv"
} >"$tmp/dashboard_rules.yml"
if $limit promtool check rules "$tmp/dashboard_rules.yml" >"$tmp/out" 2>&1; then
	pass "$dashboard: every query is valid PromQL (promtool check rules)"
else
	cat "$tmp/out" >&2
	fail "$dashboard: a query is not valid PromQL"
fi

if [ $failures -ne 0 ]; then
	echo "check.sh: $failures check(s) FAILED" >&2
	exit 1
fi
echo "check.sh: all monitoring checks passed"
