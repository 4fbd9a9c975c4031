/**
 * What stands between a CacheTier and Ready (checks, in order: the first failing one names the
 * reason), and the alerts' findings: replicas lagging, persistence failing. Pure.
 */
import type { CacheTier } from '../../api/v1alpha1/index.ts';
import type { Check } from '../../runtime/summary.ts';
import type { RedisProbe } from './probe.ts';
import { type Observation, REPLICA_ACK_SECONDS } from './status.ts';

export const writerOf = (o: Observation) => o.members.find((m) => m.name === o.writer);

export function checks(t: CacheTier, o: Observation): Check[] {
  const refused = o.members.flatMap((m) =>
    Object.entries(m.probe?.config.refused ?? {}).map(([k, e]) => `${m.name}: ${k} (${e})`),
  );
  const issue = o.members.find((m) => m.podIssue);
  const w = writerOf(o);
  return [
    {
      ok: !o.secretProblem,
      reason: o.secretProblem?.reason ?? 'SecretNotFound',
      message: o.secretProblem?.message ?? '',
    },
    {
      ok: o.readyReplicas >= t.spec.replicas,
      reason: issue?.podIssue?.reason ?? 'Provisioning',
      message: issue
        ? `pod ${issue.name}: ${issue.podIssue!.message}`
        : `${o.readyReplicas}/${t.spec.replicas} Redis pod(s) ready`,
    },
    {
      ok: !o.waiting && !!w,
      reason: o.waiting?.reason ?? 'NoWriter',
      message: o.waiting?.message ?? 'no writer elected yet',
    },
    {
      ok: !!w?.probe,
      reason: w?.probeError?.reason ?? 'NotProbed',
      message: `${o.writer ?? 'redis'}: ${w?.probeError?.message ?? 'not probed'}`,
    },
    {
      ok: !o.members.some((m) => m.probe?.info.loading),
      reason: 'Loading',
      message: `Redis is loading its data from disk: ${o.members
        .filter((m) => m.probe?.info.loading)
        .map((m) => m.name)
        .join(', ')}`,
    },
    { ok: refused.length === 0, reason: 'ConfigRefused', message: `Redis refused: ${refused.join('; ')}` },
  ];
}

/** mode replicated: replicas whose link is down or whose last ack is old, with why. */
export function lagging(o: Observation): string[] {
  const w = writerOf(o)?.probe?.info;
  return o.members.flatMap((m) => {
    const i = m.probe?.info;
    if (!i || m.name === o.writer || i.role !== 'slave') return [];
    if (!i.linkUp) return [`${m.name}: link to the writer down`];
    const ack = w?.replicas.find((r) => r.ip === m.podIP);
    if (ack && ack.lagSeconds > REPLICA_ACK_SECONDS) return [`${m.name}: last ack ${ack.lagSeconds} s ago`];
    return [];
  });
}

export function persistenceFailing(p: RedisProbe): string | undefined {
  const i = p.info;
  if (i.aofEnabled && i.aofLastWriteStatus && i.aofLastWriteStatus !== 'ok')
    return `AOF write status ${i.aofLastWriteStatus}`;
  if (i.aofLastRewriteStatus && i.aofLastRewriteStatus !== 'ok')
    return `AOF rewrite status ${i.aofLastRewriteStatus}`;
  if (i.lastBgsaveStatus && i.lastBgsaveStatus !== 'ok') return `last BGSAVE ${i.lastBgsaveStatus}`;
  return undefined;
}
