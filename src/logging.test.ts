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
