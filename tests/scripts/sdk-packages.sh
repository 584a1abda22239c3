#!/usr/bin/env bash
# Packs both SDKs and compiles a consumer of each against the package, as a school would get it:
# a strict TypeScript project that installs the packed .tgz, and a C# project that restores the
# .nupkg from a local folder feed (its dependencies from the global packages folder that the
# repository's own restore filled, so no registry is needed). The C# snippets of docs/sdk-csharp.md
# and the SDK's README are compiled in the C# consumer, each wrapped in a method of its own.
# Expects the Release build of Callern.sln (./test.sh builds it first); `npm ci` in the TypeScript SDK.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/setup.sh

WORK=$(mktemp -d "${TMPDIR:-/tmp}/callern-sdk-packages.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cp -r tests/sdk-consumers/typescript tests/sdk-consumers/csharp "$WORK/"

# TypeScript: npm pack (its prepack builds dist/), then a strict consumer installs the .tgz.
TGZ=$(cd src/Callern.Sdk.TypeScript && npm pack --silent --pack-destination "$WORK")
tar -tzf "$WORK/$TGZ" | grep -x 'package/dist/index.d.ts' >/dev/null || callern_die "the npm package has no dist/index.d.ts"
tar -tzf "$WORK/$TGZ" | grep -x 'package/README.md' >/dev/null || callern_die "the npm package has no README.md"
(cd "$WORK/typescript" &&
  npm install --prefer-offline --no-audit --no-fund --no-package-lock --silent "../$TGZ" typescript@5.9.3 &&
  npx --no-install tsc -p tsconfig.json)
echo "TypeScript consumer compiled against $TGZ"

# C#: dotnet pack into a folder feed; the consumer restores Callern.Sdk from it alone.
dotnet pack src/Callern.Sdk -c Release --no-build -nologo -o "$WORK/csharp/feed" >/dev/null
NUPKG=$(cd "$WORK/csharp/feed" && ls Callern.Sdk.*.nupkg)
python3 -m zipfile -l "$WORK/csharp/feed/$NUPKG" | grep '^README.md ' >/dev/null || callern_die "the NuGet package has no README.md"
# A package of the same version from an earlier run would be taken from the global packages folder instead.
GLOBAL_PACKAGES=$(dotnet nuget locals global-packages --list | sed -E 's/^[^:]*: //')
rm -rf "$GLOBAL_PACKAGES/callern.sdk"
for doc in docs/sdk-csharp.md src/Callern.Sdk/README.md; do
  awk -v name="$(basename "$doc" .md | tr -c 'A-Za-z0-9\n' '_')" '
    /^```csharp$/ { inside = 1; n++; body = ""; usings = ""; next }
    inside && /^```$/ {
      inside = 0
      file = out "/Snippet_" name "_" n ".cs"
      printf "%s#pragma warning disable CS1998 // a snippet without await\nnamespace Snippets;\n\ninternal static class %s_%d\n{\n    // Given: where the platform is, and the school'"'"'s API key.\n    public static async Task RunAsync(Uri baseUrl, string keyId, string secret)\n    {\n%s    }\n}\n", usings, name, n, body > file
      next
    }
    inside && /^using / { usings = usings $0 "\n"; next }
    inside { body = body "        " $0 "\n" }
  ' out="$WORK/csharp" "$doc"
done
(cd "$WORK/csharp" && dotnet build -nologo -clp:ErrorsOnly -v quiet)
rm -rf "$GLOBAL_PACKAGES/callern.sdk"
echo "C# consumer and $(ls "$WORK"/csharp/Snippet_*.cs | wc -l) documentation snippets compiled against $NUPKG"
