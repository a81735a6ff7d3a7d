// Builds the task view into the one self-contained HTML5 document McpFunction serves:
// src/main.js bundled with rolldown (everything pinned by package-lock.json) and inlined, with
// src/style.css, into index.html. Nothing is left to load: the host's CSP allows inline script
// and style only.
//
//   node build.mjs [output]   (default: the layer's chatkit_backend/mcp/task_view.html)
import { readFile, writeFile } from "node:fs/promises";
import { rolldown } from "rolldown";

const here = new URL(".", import.meta.url);
const output = process.argv[2] ?? new URL("../../python/chatkit_backend/mcp/task_view.html", here);

// ext-apps' App imports zod/v4 dynamically for one function, toJSONSchema (tools an App registers
// itself, which this view does not). A dynamic import keeps the whole zod namespace, locales
// included (about 290 kB); resolving it to that one function keeps the bundle a third the size.
const zodJsonSchemaOnly = {
  name: "zod-json-schema-only",
  resolveId(source, _importer, options) {
    return source === "zod/v4" && options.kind === "dynamic-import" ? "\0zod-json-schema" : null;
  },
  load(id) {
    return id === "\0zod-json-schema"
      ? 'import { toJSONSchema } from "zod/v4/core"; export const z = { toJSONSchema };'
      : null;
  },
};

const bundle = await rolldown({ input: new URL("src/main.js", here).pathname, plugins: [zodJsonSchemaOnly] });
const { output: chunks } = await bundle.generate({ format: "esm", minify: true, codeSplitting: false });
await bundle.close();
if (chunks.length !== 1) throw new Error(`expected one chunk, got ${chunks.map((chunk) => chunk.fileName)}`);

const template = await readFile(new URL("index.html", here), "utf8");
const style = await readFile(new URL("src/style.css", here), "utf8");
// "</script" inside the code would end the inline element early; "<\/script" means the same to JS.
const script = chunks[0].code.replaceAll("</script", "<\\/script");
const html = template
  .replace("/* view:style */", () => style.trim())
  .replace("/* view:script */", () => script.trim());
await writeFile(output, html);
console.log(`${typeof output === "string" ? output : output.pathname}: ${Buffer.byteLength(html)} bytes`);
