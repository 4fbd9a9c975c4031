/** Reads the local API server's audit log: what one user agent asked for, and when. */
import { readFileSync } from 'node:fs';
import { inject } from 'vitest';

export interface AuditEvent {
  verb: string;
  userAgent?: string;
  requestURI: string;
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
  requestReceivedTimestamp: string;
  responseStatus?: { code?: number };
}

export const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/** Audit events since `since` whose user agent starts with `agentPrefix`. */
export function auditEvents(agentPrefix: string, since: Date): AuditEvent[] {
  const lines = readFileSync(inject('auditLog'), 'utf8').trim().split('\n');
  const out: AuditEvent[] = [];
  for (const line of lines) {
    if (!line.includes(agentPrefix)) continue;
    const e = JSON.parse(line) as AuditEvent;
    if (e.userAgent?.startsWith(agentPrefix) && new Date(e.requestReceivedTimestamp) >= since) out.push(e);
  }
  return out;
}
