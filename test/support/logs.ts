/**
 * Reading the operator's log in a test: the lines a test may judge are the ones about what the
 * test made. An operator installed cluster-wide also meets what other tests or the demo left on
 * the same cluster (a namespace being deleted, another test's objects); a refusal about those is
 * not this test's.
 */

/** The namespaces a log line names: its reconcile key, a `namespace` field, or an API path or message. */
export function namespacesOf(line: string): string[] {
  const found = new Set<string>();
  const patterns = [
    /"key":"([a-z0-9-]+)\//g,
    /"namespace":"([a-z0-9-]+)"/g,
    /\/namespaces\/([a-z0-9-]+)\//g,
    /\bin (?:the )?namespace "?([a-z0-9-]+)"?/g,
  ];
  for (const p of patterns) for (const m of line.matchAll(p)) found.add(m[1]!);
  return [...found];
}

/**
 * The lines of `log` that match `pattern` and name no namespace outside `own` (a line naming none
 * is kept: a cluster-wide refusal is everyone's business).
 */
export function linesAbout(log: string, pattern: RegExp, own: readonly string[]): string[] {
  return log
    .split('\n')
    .filter((l) => pattern.test(l))
    .filter((l) => namespacesOf(l).every((ns) => own.includes(ns)));
}
