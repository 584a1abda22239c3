#!/usr/bin/env bash
# Fails when a NuGet package of the solution (direct or transitive) has a known high or critical
# advisory, naming it. Run by ./test.sh after the build (the restore it needs is done).
# When the advisory source cannot be reached, dotnet prints a warning instead of results: that is
# reported and does not fail the run (a closed network is not a vulnerability), but it is never
# taken as "no advisories" either (docs/security.md, "Dependencies").
set -euo pipefail
cd "$(dirname "$0")/.."
report=$(dotnet list Callern.sln package --vulnerable --include-transitive --format json 2>&1) || {
  printf '%s\n' "$report" >&2
  echo "callern: dependency audit could not run (dotnet list package failed)" >&2
  exit 1
}
python3 - "$report" <<'PY'
import json, sys
text = sys.argv[1]
start = text.find("{")
if start < 0:
    sys.exit("callern: dependency audit: no report from dotnet list package:\n" + text)
report = json.loads(text[start:])
problems = report.get("problems", [])
for problem in problems:
    print(f"callern: dependency audit: {problem.get('level', 'warning')}: {problem.get('text', '')}", file=sys.stderr)
found = []
for project in report.get("projects", []):
    for framework in project.get("frameworks", []):
        for kind in ("topLevelPackages", "transitivePackages"):
            for package in framework.get(kind, []):
                for advisory in package.get("vulnerabilities", []):
                    if advisory.get("severity", "").lower() in ("high", "critical"):
                        found.append(f"{package['id']} {package.get('resolvedVersion', '')} ({advisory['severity']}, {advisory.get('advisoryurl', '')}) in {project['path'].split('/')[-1]}")
if found:
    print("callern: dependency audit FAILED: packages with high or critical advisories:", file=sys.stderr)
    for line in sorted(set(found)):
        print("  " + line, file=sys.stderr)
    sys.exit(1)
if problems:
    print("callern: dependency audit: the advisory source did not answer; NOT checked (see above)", file=sys.stderr)
else:
    print("callern: dependency audit: no high or critical advisories", file=sys.stderr)
PY
