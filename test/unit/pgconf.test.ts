/**
 * The rendered postgresql.conf, read by PostgreSQL's own configuration scanner (`postgres -C`,
 * the binary hack/dataplane.sh installs; no server runs): every value a user may admit reads
 * back exactly, and a value can never start a second setting.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { homeOpsDatabaseSpec } from '../../src/api/v1alpha1/index.ts';
import { renderPostgresConf } from '../../src/controllers/homeopsdatabase/pgconfig.ts';

const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const dir = mkdtempSync(join(tmpdir(), 'homeops-pgconf-'));
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What PostgreSQL reads for `name` from a postgresql.conf rendered with `parameters`. */
function readBack(parameters: Record<string, string>, name: string): string {
  const spec = homeOpsDatabaseSpec.parse({ postgres: { parameters } });
  writeFileSync(join(dir, 'postgresql.conf'), renderPostgresConf(spec), { mode: 0o644 });
  // postgres refuses to run as root: as the data plane's `postgres` user, as hack/dataplane.sh does.
  return execFileSync('runuser', ['-u', 'postgres', '--', join(PG_BIN, 'postgres'), '-D', dir, '-C', name], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).replace(/\n$/, '');
}

describe("postgresql.conf, read by PostgreSQL's scanner", () => {
  it.each([
    ['a Windows-style path', 'C:\\data\\x'],
    ['quotes inside', "it's 'quoted'"],
    ['two quoted parts with text between', "'a' b 'c'"],
    ['a trailing backslash', 'ends with \\'],
    ['a hash, which starts a comment outside quotes', 'a # b'],
    ['an equals sign', 'x = y'],
    ['unicode', 'añø – ok'],
  ])('%s reads back exactly', (_what, value) => {
    expect(readBack({ 'homeops_test.v': value }, 'homeops_test.v')).toBe(value);
  });

  it('keeps a value already written as one quoted literal as the user meant it', () => {
    expect(readBack({ 'homeops_test.v': "'all'" }, 'homeops_test.v')).toBe('all');
    // Units as PostgreSQL parses them (`-C` prints kB).
    expect(readBack({ work_mem: '8MB' }, 'work_mem')).toBe('8192');
    expect(readBack({ work_mem: '16384' }, 'work_mem')).toBe('16384');
  });

  it('never lets a value set another setting', () => {
    const port = readBack({}, 'port');
    expect(readBack({ 'homeops_test.v': "x' port = '9999" }, 'port')).toBe(port);
    expect(readBack({ 'homeops_test.v': "x' port = '9999" }, 'homeops_test.v')).toBe("x' port = '9999");
  });
});
