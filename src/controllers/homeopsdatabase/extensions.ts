/**
 * spec.postgres.extensions (and spec.postgres.timescale) as the operator carries them out: which
 * extensions to make, which libraries the start script preloads, and what status says. Pure.
 */
import type { HomeOpsDatabase, HomeOpsDatabaseStatus } from '../../api/v1alpha1/index.ts';
import {
  blockingExtension,
  type ExtensionState,
  type ExtensionWant,
  PRELOAD_LIBRARIES,
} from '../../pg/extensions.ts';
import type { ConditionInput } from '../../runtime/conditions.ts';
import type { Check } from '../../runtime/summary.ts';

/** `name` or `name@version`, as the spec writes an extension. */
export function parseExtension(entry: string): { name: string; version?: string } {
  const at = entry.indexOf('@');
  return at < 0 ? { name: entry } : { name: entry.slice(0, at), version: entry.slice(at + 1) };
}

/**
 * The extensions the operator makes: the spec's, each required; TimescaleDB also by
 * `timescale` (`enabled`: required; `auto`: where the image has it).
 */
export function declaredExtensions(db: HomeOpsDatabase): ExtensionWant[] {
  const wants: ExtensionWant[] = (db.spec.postgres.extensions ?? []).map((e) => ({
    ...parseExtension(e),
    required: true,
  }));
  const mode = db.spec.postgres.timescale;
  if (mode !== 'disabled' && !wants.some((w) => w.name === 'timescaledb'))
    wants.push({ name: 'timescaledb', required: mode === 'enabled' });
  return wants;
}

/** Installed extensions as the last probe saw them (status), by name. */
const installedNames = (status: HomeOpsDatabaseStatus | undefined) =>
  new Set((status?.extensions ?? []).map((e) => e.name));

/**
 * The libraries the start scripts ask to preload, in a fixed order: pg_stat_statements (the
 * operator's monitoring), those of the declared extensions, and those of extensions still
 * installed though no longer declared: unloading TimescaleDB under its hypertables would break
 * every query on them, so a removal keeps the library until the extension is gone.
 */
export function preloadLibraries(db: HomeOpsDatabase): string[] {
  const wanted = new Set(['pg_stat_statements', ...declaredExtensions(db).map((w) => w.name)]);
  for (const name of installedNames(db.status as HomeOpsDatabaseStatus | undefined)) wanted.add(name);
  return Object.keys(PRELOAD_LIBRARIES)
    .filter((ext) => wanted.has(ext))
    .map((ext) => PRELOAD_LIBRARIES[ext]!);
}

/** Declared once, installed, and no longer declared: kept (and said so), never dropped. */
export function keptExtensions(db: HomeOpsDatabase): string[] {
  const declared = new Set(declaredExtensions(db).map((w) => w.name));
  return [...installedNames(db.status as HomeOpsDatabaseStatus | undefined)].filter(
    (n) => n === 'timescaledb' && !declared.has(n),
  );
}

const REASONS: Record<ExtensionState['phase'], string> = {
  Installed: 'Installed',
  Missing: 'ExtensionMissing',
  Unavailable: 'ExtensionUnavailable',
  VersionUnavailable: 'ExtensionUnavailable',
  RestartPending: 'ExtensionRestartPending',
  Failed: 'ExtensionFailed',
};

/** Ready's check: a required extension that is not installed names Ready's reason. */
export function extensionCheck(states: ExtensionState[] | undefined): Check {
  const b = blockingExtension(states);
  return { ok: !b, reason: b ? REASONS[b.phase] : 'Installed', message: b?.message ?? '' };
}

/** The ExtensionsReady condition, when the probe read the extensions. */
export function extensionsCondition(
  db: HomeOpsDatabase,
  states: ExtensionState[] | undefined,
): ConditionInput | undefined {
  if (!states) return undefined;
  const b = blockingExtension(states);
  if (b)
    return { type: 'ExtensionsReady', status: 'False', reason: REASONS[b.phase], message: b.message ?? '' };
  const kept = keptExtensions(db);
  if (kept.length)
    return {
      type: 'ExtensionsReady',
      status: 'False',
      reason: 'ExtensionRemovalRefused',
      message: `${kept.join(', ')} is no longer declared but stays installed and preloaded: DROP EXTENSION would drop every hypertable with it. Drop them and the extension yourself to remove it`,
    };
  const installed = states.filter((s) => s.phase === 'Installed');
  return {
    type: 'ExtensionsReady',
    status: 'True',
    reason: 'Installed',
    message: installed.length
      ? `installed: ${installed.map((s) => `${s.name} ${s.version ?? ''}`.trim()).join(', ')}`
      : 'no extension declared',
  };
}
