import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPERATOR_NODE_FLAGS } from '../../src/images.ts';

const repo = join(import.meta.dirname, '..', '..');
const read = (f: string) => readFileSync(join(repo, f), 'utf8');

describe("the operator's V8 flags", () => {
  it('are the same in the Dockerfile, the locally built image and the benchmarks', () => {
    const docker = /^ENTRYPOINT (.*)$/m.exec(read('Dockerfile'))?.[1];
    expect(JSON.parse(docker!)).toEqual(['node', ...OPERATOR_NODE_FLAGS, '/app/dist/main.js']);
    const local = /operator\) cmd=''; entry='([^']*)'/.exec(read('hack/images.sh'))?.[1];
    expect(JSON.parse(`[${local}]`)).toEqual(['node', ...OPERATOR_NODE_FLAGS, '/app/dist/main.js']);
    expect(read('bench/operator.ts')).toContain('...OPERATOR_NODE_FLAGS,');
  });
});
