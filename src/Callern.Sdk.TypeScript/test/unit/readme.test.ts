// The README's and docs/sdk-typescript.md's TypeScript snippets are what users copy: they must
// compile against the package as it is, under the same strict settings. Compiled in memory,
// importing "@callern/sdk" from src. (The browser suite also runs the CallSession snippet.)
import { join, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { guideSnippets, readmeSnippets } from "../readme-snippets.js";

const packageDir = resolve(import.meta.dirname, "../..");
const readme = readmeSnippets();
const guide = guideSnippets();
const snippets = [...readme, ...guide];

/** Type-checks every snippet in one program (one lib load, several seconds); errors by snippet. */
function compileAll(sources: string[]): string[][] {
  const files = sources.map((_, i) => join(packageDir, `test/unit/readme-snippet-${i + 1}.ts`));
  // `export {}` makes a snippet a module, as it is in an app, so top-level await is allowed.
  const texts = new Map(files.map((file, i) => [file, `${sources[i] ?? ""}\nexport {};\n`]));
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2022.d.ts", "lib.dom.d.ts", "lib.dom.iterable.d.ts"],
    strict: true,
    noUncheckedIndexedAccess: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    baseUrl: packageDir,
    paths: { "@callern/sdk": ["src/index.ts"] },
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, version, ...rest) => {
    const text = texts.get(name);
    return text !== undefined ? ts.createSourceFile(name, text, version) : getSourceFile.call(host, name, version, ...rest);
  };
  host.fileExists = (name) => texts.has(name) || fileExists.call(host, name);
  host.readFile = (name) => texts.get(name) ?? readFile.call(host, name);
  const program = ts.createProgram(files, options, host);
  const diagnostics = ts.getPreEmitDiagnostics(program);
  return files.map((file) =>
    diagnostics
      .filter((d) => d.file?.fileName === file || d.file === undefined)
      .map((d) => `line ${d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : "?"}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`),
  );
}

describe("README and guide snippets", () => {
  it("has the REST, CallSession, realtime and webhook snippets", () => {
    expect(readme.some((s) => s.includes("createCallernApi"))).toBe(true);
    expect(readme.some((s) => s.includes("new CallSession"))).toBe(true);
    expect(readme.some((s) => s.includes("new CallernRealtime"))).toBe(true);
    expect(guide.filter((s) => s.includes("new CallernRealtime"))).toHaveLength(4); // warm-up, student, teacher, a refused origin
    expect(guide.some((s) => s.includes("new CallWarmup") && s.includes("warmup"))).toBe(true);
    expect(guide.some((s) => s.includes("PlatformAccessError") && s.includes("origin_not_allowed"))).toBe(true);
    expect(guide.some((s) => s.includes("room.sendChat"))).toBe(true);
    expect([readme, guide].map((s) => s.some((snippet) => snippet.includes("verifyWebhook(")))).toEqual([true, true]);
  });

  it("every snippet compiles under strict settings", { timeout: 60_000 }, () => {
    const errors = compileAll(snippets);

    expect(errors.map((e, i) => ({ snippet: i + 1, errors: e }))).toEqual(snippets.map((_, i) => ({ snippet: i + 1, errors: [] })));
  });
});
