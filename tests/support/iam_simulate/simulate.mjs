// Reads {"roles": {<function>: {"principal", "policies": [{"name", "document"}]}}, "requests":
// [{"function", "action", "resource", "context"}], "account"} on stdin and writes one verdict per
// request on stdout: {"result": "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied" | "Error",
// "errors", "used": [{"policy", "statement", "actions", "resources"}]}, where "used" names the
// Allow statements that matched and which of their action and resource patterns did.
import { runSimulation } from '@cloud-copilot/iam-simulate'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const { roles, requests, account } = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const listed = (value) => (value === undefined ? [] : Array.isArray(value) ? value : [value])
const matched = (explains) => listed(explains).filter((e) => e.matches)

const verdicts = []
for (const request of requests) {
  const role = roles[request.function]
  const response = await runSimulation(
    {
      identityPolicies: role.policies.map((p) => ({ name: p.name, policy: p.document })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        action: request.action,
        principal: role.principal,
        resource: { resource: request.resource, accountId: account },
        contextVariables: request.context,
      },
    },
    {},
  )
  if (response.resultType !== 'single') {
    verdicts.push({ result: 'Error', errors: response.errors ?? response.resultType, used: [] })
    continue
  }
  const analysis = response.result.analysis?.identityAnalysis
  verdicts.push({
    result: response.overallResult,
    used: (analysis?.allowStatements ?? []).map((s) => ({
      policy: s.policyId,
      statement: Number(s.explain.identifier),
      actions: matched(s.explain.actions).map((a) => a.action),
      resources: matched(s.explain.resources).map((r) => r.resource),
    })),
  })
}
process.stdout.write(JSON.stringify(verdicts))
