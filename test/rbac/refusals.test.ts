/**
 * Runs after every other project. Each test's operator ran as the ServiceAccount bound to the
 * chart's rules (src/deploy/rbac.ts): here, no request it made in this run may have been refused,
 * and every request it made must be one the rules allow (a rule granted to the account by hand
 * would otherwise hide a gap).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, inject, it } from 'vitest';
import { allows, LEADER_RULES, WATCH_RULES } from '../../src/deploy/rbac.ts';
import { OPERATOR_NAMESPACE, OPERATOR_USER } from '../setup/global.ts';

interface Audit {
  verb: string;
  requestURI: string;
  user?: { username?: string };
  objectRef?: { apiGroup?: string; resource?: string; subresource?: string; namespace?: string };
  requestReceivedTimestamp: string;
  responseStatus?: { code?: number };
}

function operatorRequests(): Audit[] {
  const since = new Date(inject('runStarted'));
  const out: Audit[] = [];
  for (const line of readFileSync(inject('auditLog'), 'utf8').split('\n')) {
    if (!line.includes(OPERATOR_USER)) continue;
    const e = JSON.parse(line) as Audit;
    if (e.user?.username === OPERATOR_USER && new Date(e.requestReceivedTimestamp) >= since) out.push(e);
  }
  return out;
}

describe("the operator's role", () => {
  it('refused none of the requests the controllers made in this run', () => {
    const requests = operatorRequests();
    // The other projects ran operators as this account: an empty log means the check saw nothing.
    expect(requests.length).toBeGreaterThan(100);
    const refused = requests
      .filter((e) => e.responseStatus?.code === 403)
      .map((e) => `${e.verb} ${e.requestURI}`);
    expect(refused).toEqual([]);
  });

  it('allows every request made, and each rule was needed by some request', () => {
    const requests = operatorRequests().filter((e) => e.objectRef?.resource);
    const attrs = requests.map((e) => ({
      verb: e.verb,
      apiGroup: e.objectRef!.apiGroup ?? '',
      resource: e.objectRef!.resource!,
      subresource: e.objectRef!.subresource,
    }));
    // As the chart grants them: the watch rules everywhere, leader election in its own namespace.
    const allowed = (a: (typeof attrs)[number], i: number) =>
      allows(WATCH_RULES, a) ||
      (requests[i]!.objectRef?.namespace === OPERATOR_NAMESPACE && allows(LEADER_RULES, a));
    expect(attrs.filter((a, i) => !allowed(a, i))).toEqual([]);
    // Grants no controller used in the whole run: candidates for removal, listed, not failed
    // (a shorter run, such as one test file, uses fewer).
    const unused = WATCH_RULES.flatMap((r) =>
      r.apiGroups.flatMap((g) =>
        r.resources.flatMap((res) =>
          r.verbs
            .filter((verb) => {
              const [resource, subresource] = res.split('/');
              return !attrs.some(
                (a) =>
                  a.apiGroup === g &&
                  a.resource === resource &&
                  a.subresource === subresource &&
                  a.verb === verb,
              );
            })
            .map((verb) => `${verb} ${g || 'core'}/${res}`),
        ),
      ),
    );
    console.info(`granted and not used in this run: ${unused.join(', ') || 'none'}`);
  });
});
