// A Better Auth 1.7.5 app on 127.0.0.1: the authorization server of /mcp in the integration tests,
// configured as docs/mcp.md tells a deployment to configure its own.
//
//   MCP_RESOURCE=http://127.0.0.1:<stack port>/mcp node server.mjs
//
// It prints one JSON line, {"url": "<base URL>"}, once it listens. Users live in memory, and the
// app's secret is generated at start, so nothing here is a stored secret. There are no login or
// consent pages: the tests sign a user up through the API and accept consent through
// /api/auth/oauth2/consent, which is what those pages call.
import { randomBytes } from "node:crypto";
import http from "node:http";
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { getAuthTables } from "better-auth/db";
import { toNodeHandler } from "better-auth/node";
import { jwt } from "better-auth/plugins";
import { mcp } from "@better-auth/mcp";

const resource = process.env.MCP_RESOURCE;
if (!resource) {
  console.error("MCP_RESOURCE (the public URL of /mcp) is required");
  process.exit(2);
}

const db = {};
const server = http.createServer();
server.listen(Number(process.env.PORT || 0), "127.0.0.1", () => {
  const baseURL = `http://127.0.0.1:${server.address().port}`;
  const options = {
    baseURL,
    secret: randomBytes(32).toString("hex"),
    telemetry: { enabled: false },
    database: memoryAdapter(db),
    emailAndPassword: { enabled: true },
    plugins: [
      // The frontend's user tokens share the OAuth issuer, so one JwtIssuer names both.
      jwt({ jwt: { issuer: `${baseURL}/api/auth`, audience: baseURL } }),
      mcp({
        resource,
        loginPage: "/login",
        consentPage: "/consent",
        scopes: ["openid", "profile", "email", "offline_access", "tasks:read", "tasks:write"],
        allowDynamicClientRegistration: true,
        allowUnauthenticatedClientRegistration: true,
      }),
    ],
  };
  // The memory adapter needs every model the plugins define to exist before the first query.
  for (const table of Object.values(getAuthTables(options))) db[table.modelName] ??= [];
  const handler = toNodeHandler(betterAuth(options));
  server.on("request", (request, response) => handler(request, response));
  console.log(JSON.stringify({ url: baseURL }));
});

