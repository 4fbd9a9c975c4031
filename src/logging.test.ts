import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { makeLogger } from './logging.ts';

describe('the logger', () => {
  it('censors secret-bearing fields wherever an object lands in a line', () => {
    const lines: string[] = [];
    const out = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = makeLogger('info', 'op-1', out);
    log.info(
      {
        password: 'p1',
        target: { host: 'db', password: 'p2', uri: 'postgresql://u:p3@db/x' },
        secret: { metadata: { name: 's' }, data: { password: 'cDQ=' } },
        req: { headers: { authorization: 'Bearer t5' } },
      },
      'connected',
    );
    const text = lines.join('');
    for (const leaked of ['p1', 'p2', 'p3', 'cDQ=', 't5']) expect(text).not.toContain(leaked);
    const line = JSON.parse(lines[0]!);
    expect(line.target.host).toBe('db');
    expect(line.secret.metadata.name).toBe('s');
    expect(line.identity).toBe('op-1');
  });
});

describe('errors in log lines', () => {
  it("say an error's name and message only: not a Redis command's arguments, not a pg error's fields", async () => {
    const { ReplyError } = await import('ioredis');
    const { errorText } = await import('./runtime/errors.ts');
    const redis = Object.assign(new ReplyError('WRONGPASS invalid username-password pair'), {
      command: { name: 'auth', args: ['operator', 's3cret-redis'] },
    });
    expect(errorText(redis)).toBe('ReplyError: WRONGPASS invalid username-password pair');
    const pgError = Object.assign(new Error('password authentication failed for user "homeops"'), {
      code: '28P01',
      where: 'SQL statement "ALTER ROLE x PASSWORD \'s3cret-pg\'"',
    });
    expect(errorText(pgError)).not.toContain('s3cret');
    expect(errorText('plain')).toBe('plain');
    expect(errorText({ message: 'm', args: ['s3cret'] })).toBe('m');
  });

  it('reach the logs only through errorText (no error object logged whole)', () => {
    const { readdirSync, readFileSync } = require('node:fs') as typeof import('node:fs');
    const { join } = require('node:path') as typeof import('node:path');
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts') && !p.endsWith('.test.ts'))
          readFileSync(p, 'utf8')
            .split('\n')
            .forEach((line, i) => {
              // A log call's `err` field (in an object literal), not a parameter `(…, err: unknown)`.
              for (const m of line.matchAll(/\{[^}(]*\berr: ([^,}]+)/g))
                if (!m[1]!.startsWith('errorText(')) offenders.push(`${p}:${i + 1}: ${line.trim()}`);
            });
      }
    };
    walk(import.meta.dirname);
    expect(offenders).toEqual([]);
  });
});
