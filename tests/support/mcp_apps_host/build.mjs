// Bundles host.js (everything pinned by package-lock.json) into one page: node build.mjs <host.html>
import { writeFile } from "node:fs/promises";
import { rolldown } from "rolldown";

const bundle = await rolldown({ input: new URL("host.js", import.meta.url).pathname });
const { output } = await bundle.generate({ format: "esm", codeSplitting: false });
await bundle.close();
const script = output[0].code.replaceAll("</script", "<\\/script");
await writeFile(
  process.argv[2],
  `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>MCP Apps test host</title>
<style>
body { margin: 0; padding: 16px; background: #f5f5f4; font: 14px system-ui, sans-serif; }
#conversation { max-width: 560px; }
iframe { display: block; width: 100%; height: 120px; border: 0; }
iframe.bordered { border: 1px solid #d6d3d1; border-radius: 12px; background: #fff; }
</style>
<div id="conversation"></div>
<script type="module">${script}</script>
</html>
`,
);
