// A web host of MCP Apps, as ChatGPT or Claude's web app is one, for the browser tests: the
// official MCP client (@modelcontextprotocol/sdk) connects to /mcp with the user's token and
// offers the extension; the extension's AppBridge renders a tool's view in a sandbox proxy on
// another origin (sandbox.html), and relays the view's tools/call requests to the server.
//
// The tests drive it through window.host; it keeps what they check in window.host.seen.
import {
  AppBridge,
  PostMessageTransport,
  RESOURCE_MIME_TYPE,
  getToolUiResourceUri,
} from "@modelcontextprotocol/ext-apps/app-bridge";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const HOST = { name: "Test host", version: "1.0.0" };
const EXTENSION = "io.modelcontextprotocol/ui";

let client;
let transport;
let tools = new Map();
let bridge;
let context = {};
const seen = { calls: [], sizes: [], refused: [] };

// Connects as the user the token names, offering MCP Apps; what the server answered.
async function connect(url, token) {
  client = new Client(HOST, {
    capabilities: { extensions: { [EXTENSION]: { mimeTypes: [RESOURCE_MIME_TYPE] } } },
  });
  transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  const listed = await client.listTools();
  tools = new Map(listed.tools.map((tool) => [tool.name, tool]));
  return {
    protocolVersion: transport.protocolVersion,
    sessionId: transport.sessionId,
    capabilities: client.getServerCapabilities(),
    tools: listed.tools,
  };
}

// A tools/call over the host's own connection (as the model's calls are).
async function callTool(name, args) {
  return client.callTool({ name, arguments: args });
}

async function readResource(uri) {
  return client.readResource({ uri });
}

// What a host does when the model calls a tool that names a view: call it, read the view,
// render it in the sandbox, then hand the view the call's input and result.
async function show(name, args, sandboxUrl, theme = "light") {
  const uri = getToolUiResourceUri(tools.get(name));
  if (!uri) throw new Error(`${name} names no view`);
  const result = client.callTool({ name, arguments: args });
  const { contents } = await client.readResource({ uri });
  const [view] = contents;
  if (contents.length !== 1 || view.mimeType !== RESOURCE_MIME_TYPE) throw new Error(`not a view: ${uri}`);
  // This host serves the sandbox with the spec's restrictive default CSP only, which is right
  // for a view that declares no domain; it refuses to render one that asks for more.
  const csp = view._meta?.ui?.csp ?? {};
  if (Object.values(csp).some((domains) => domains?.length)) throw new Error(`the view asks for domains: ${JSON.stringify(csp)}`);

  document.getElementById("view")?.remove();
  const frame = document.createElement("iframe");
  frame.id = "view";
  frame.title = "Task view";
  frame.setAttribute("sandbox", "allow-scripts allow-same-origin");
  if (view._meta?.ui?.prefersBorder) frame.classList.add("bordered");
  const proxyReady = new Promise((resolve) => {
    addEventListener("message", function ready(event) {
      if (event.source === frame.contentWindow && event.data?.method === "ui/notifications/sandbox-proxy-ready") {
        removeEventListener("message", ready);
        resolve();
      }
    });
  });
  frame.src = sandboxUrl;
  document.getElementById("conversation").append(frame);
  await proxyReady;

  context = { theme, displayMode: "inline", platform: "web", containerDimensions: { maxHeight: 2000 } };
  bridge = new AppBridge(client, HOST, { serverTools: {}, serverResources: {} }, { hostContext: context });
  bridge.onsizechange = ({ width, height }) => {
    seen.sizes.push({ width, height });
    if (height !== undefined) frame.style.height = `${height}px`;
  };
  const initialized = new Promise((resolve) => (bridge.oninitialized = resolve));
  await bridge.connect(new PostMessageTransport(frame.contentWindow, frame.contentWindow));
  // connect() wires the view's tools/call to the client; this host also keeps a record of them
  // and refuses tools the server did not make visible to apps, as the spec requires.
  const forward = bridge.oncalltool;
  bridge.oncalltool = async (params, extra) => {
    const visibility = tools.get(params.name)?._meta?.ui?.visibility ?? ["model", "app"];
    if (!tools.has(params.name) || !visibility.includes("app")) {
      seen.refused.push(params);
      throw new Error(`the view may not call ${params.name}`);
    }
    seen.calls.push(params);
    return forward(params, extra);
  };
  await bridge.sendSandboxResourceReady({ html: view.text, csp: view._meta?.ui?.csp });
  await initialized;
  await bridge.sendToolInput({ arguments: args });
  const answered = await result;
  await bridge.sendToolResult(answered);
  return answered;
}

// The host's theme changes (the user switched it): the view is told, as hosts tell it.
async function setTheme(theme) {
  context = { ...context, theme };
  bridge.setHostContext(context);
}

window.host = { connect, callTool, readResource, show, setTheme, seen };
