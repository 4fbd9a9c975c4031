/**
 * Extensions the spec declares, made to exist in the application database: read what the server
 * has (installed, available with which versions, which libraries it preloaded), decide per
 * extension (pure: `planExtensions`), then run only what is missing as the superuser. An
 * extension is never dropped: removing it from the spec stops managing it.
 */
import pg from 'pg';
import type { SqlClient } from './settings.ts';

const { escapeIdentifier, escapeLiteral } = pg;

/** One declared extension: `version` pins it; `required` makes its absence block Ready. */
export interface ExtensionWant {
  name: string;
  version?: string;
  required: boolean;
}

/**
 * Extensions whose library must be in shared_preload_libraries before CREATE EXTENSION works
 * (or before it works fully), by extension name: the library's file name in the package lib dir.
 */
export const PRELOAD_LIBRARIES: Record<string, string> = {
  pg_stat_statements: 'pg_stat_statements',
  timescaledb: 'timescaledb',
  pg_cron: 'pg_cron',
  pgaudit: 'pgaudit',
  pg_stat_monitor: 'pg_stat_monitor',
  pg_squeeze: 'pg_squeeze',
};

/**
 * The start script's custom setting naming the libraries it was asked to preload, beside
 * shared_preload_libraries (what it found in the image): told apart, they say whether a library
 * is missing from the image or the server has not restarted with it yet.
 */
export const PRELOAD_REQUESTED_SETTING = 'homeops.preload_requested';

/** What the server has, as one query reads it. */
export interface ServerExtensions {
  installed: Record<string, string>;
  /** Of the extensions asked about: the default version and every version the image can install. */
  available: Record<string, { defaultVersion: string; versions: string[] }>;
  preloaded: string[];
  /** Libraries the start script was asked for (absent: a server started some other way). */
  requestedPreload?: string[];
  /** When the server started: a restart is a new chance for what needed one. */
  startedAt: string;
  /** `timescaledb.license` when the TimescaleDB library is loaded: `apache` or `timescale`. */
  timescaleLicense?: string;
}

export type ExtensionPhase =
  | 'Installed'
  | 'Missing' // was made once, then dropped by hand: reported, not fought
  | 'Unavailable'
  | 'VersionUnavailable'
  | 'RestartPending'
  | 'Failed';

export interface ExtensionState {
  name: string;
  phase: ExtensionPhase;
  required: boolean;
  version?: string;
  message?: string;
}

export interface ExtensionAction {
  name: string;
  sql: string;
}

const list = (s: string | null | undefined) =>
  (s ?? '')
    .split(',')
    .map((x) => x.trim().replace(/^"|"$/g, ''))
    .filter(Boolean);

/** Reads what the server has for `names` (and every installed extension). Read-only. */
export async function readServerExtensions(c: SqlClient, names: string[]): Promise<ServerExtensions> {
  const { rows } = await c.query<{
    installed: Record<string, string> | null;
    available: Record<string, { defaultVersion: string; versions: string[] }> | null;
    preloaded: string | null;
    requested: string | null;
    started: string;
    ts_license: string | null;
  }>(
    `SELECT (SELECT json_object_agg(extname, extversion) FROM pg_extension) AS installed,
            (SELECT json_object_agg(a.name, json_build_object('defaultVersion', a.default_version,
                      'versions', (SELECT json_agg(v.version ORDER BY v.version) FROM pg_available_extension_versions v
                                    WHERE v.name = a.name)))
               FROM pg_available_extensions a WHERE a.name = ANY($1::text[])) AS available,
            current_setting('shared_preload_libraries') AS preloaded,
            current_setting($2, true) AS requested,
            pg_postmaster_start_time()::text AS started,
            current_setting('timescaledb.license', true) AS ts_license`,
    [names, PRELOAD_REQUESTED_SETTING],
  );
  const r = rows[0]!;
  return {
    installed: r.installed ?? {},
    available: r.available ?? {},
    preloaded: list(r.preloaded),
    ...(r.requested === null || r.requested === undefined ? {} : { requestedPreload: list(r.requested) }),
    startedAt: r.started,
    ...(r.ts_license ? { timescaleLicense: r.ts_license } : {}),
  };
}

/**
 * Per declared extension, where it stands and what to run. `act` false reports only (the
 * declaration was already carried out on this server start: one dropped by hand since is
 * Missing, not made again behind the admin's back).
 */
export function planExtensions(
  wants: ExtensionWant[],
  server: ServerExtensions,
  image: string,
  act: boolean,
): { states: ExtensionState[]; actions: ExtensionAction[] } {
  const states: ExtensionState[] = [];
  const actions: ExtensionAction[] = [];
  for (const w of wants) {
    const installed = server.installed[w.name];
    const avail = server.available[w.name];
    const base = { name: w.name, required: w.required };
    if (!avail && !installed) {
      states.push({
        ...base,
        phase: 'Unavailable',
        message: `extension ${w.name} is not available in image ${image} (pg_available_extensions)`,
      });
      continue;
    }
    if (w.version && installed !== w.version && !avail?.versions.includes(w.version)) {
      states.push({
        ...base,
        phase: 'VersionUnavailable',
        ...(installed ? { version: installed } : {}),
        message: `extension ${w.name} version ${w.version} is not available in image ${image} (it has ${avail?.versions.join(', ') || 'none'})`,
      });
      continue;
    }
    const lib = PRELOAD_LIBRARIES[w.name];
    if (lib && !server.preloaded.includes(lib)) {
      // Asked of the start script and not loaded: the image has no such library file.
      const missingLib = server.requestedPreload?.includes(lib);
      states.push({
        ...base,
        phase: missingLib ? 'Unavailable' : 'RestartPending',
        ...(installed ? { version: installed } : {}),
        message: missingLib
          ? `extension ${w.name} needs library ${lib}.so, which image ${image} does not have`
          : `extension ${w.name} needs ${lib} in shared_preload_libraries: waiting for the primary to restart with it`,
      });
      continue;
    }
    const target = w.version ?? avail?.defaultVersion;
    if (installed && (!target || installed === target)) {
      states.push({ ...base, phase: 'Installed', version: installed });
      continue;
    }
    if (!act) {
      states.push({
        ...base,
        phase: installed ? 'Installed' : 'Missing',
        ...(installed ? { version: installed } : {}),
        ...(installed ? {} : { message: `extension ${w.name} is not installed (dropped?)` }),
      });
      continue;
    }
    const version = w.version ? ` VERSION ${escapeLiteral(w.version)}` : '';
    actions.push({
      name: w.name,
      sql: installed
        ? `ALTER EXTENSION ${escapeIdentifier(w.name)} UPDATE${w.version ? ` TO ${escapeLiteral(w.version)}` : ''}`
        : `CREATE EXTENSION IF NOT EXISTS ${escapeIdentifier(w.name)}${version} CASCADE`,
    });
    states.push({ ...base, phase: 'Installed', ...(installed ? { version: installed } : {}) });
  }
  return { states, actions };
}

/** The first state that keeps the database from Ready, if any: required and not installed. */
export function blockingExtension(states: ExtensionState[] | undefined): ExtensionState | undefined {
  return states?.find((s) => s.required && s.phase !== 'Installed');
}
