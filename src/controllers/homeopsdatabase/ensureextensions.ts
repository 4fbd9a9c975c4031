/**
 * The declared extensions made on the primary: the one write the probes make besides the
 * monitoring objects, on PostgreSQL, never on the API.
 */
import { NO_RETRY } from '../../pg/client.ts';
import { classifyPgError } from '../../pg/errors.ts';
import {
  type ExtensionState,
  type ExtensionWant,
  planExtensions,
  readServerExtensions,
  type ServerExtensions,
} from '../../pg/extensions.ts';
import { connect, type ProbeTarget } from './prober.ts';

/**
 * Makes the declared extensions that are missing (`act`), each in a session of its own as the
 * superuser (TimescaleDB's ALTER EXTENSION UPDATE must be a session's first statement), then
 * reads again: what each one is now, with PostgreSQL's error for one that failed.
 */
export async function ensureExtensions(
  target: ProbeTarget,
  wants: ExtensionWant[],
  server: ServerExtensions,
  opts: { image: string; act: boolean; timeoutMs?: number },
): Promise<{ states: ExtensionState[]; server: ServerExtensions; failed: boolean }> {
  const plan = planExtensions(wants, server, opts.image, opts.act);
  if (!plan.actions.length) return { states: plan.states, server, failed: false };
  const errors = new Map<string, string>();
  for (const a of plan.actions) {
    // CREATE EXTENSION timescaledb takes seconds: more than a probe's timeout.
    await connect(target, 120_000, NO_RETRY, (c) => c.query(a.sql)).catch((e) =>
      errors.set(a.name, classifyPgError(e).message),
    );
  }
  const names = wants.map((w) => w.name);
  const after = await connect(target, opts.timeoutMs ?? 5000, NO_RETRY, (c) =>
    readServerExtensions(c, names),
  );
  const states = planExtensions(wants, after, opts.image, false).states.map((s) => {
    const err = errors.get(s.name);
    return err ? { ...s, phase: 'Failed' as const, message: `extension ${s.name}: ${err}` } : s;
  });
  return { states, server: after, failed: errors.size > 0 };
}
