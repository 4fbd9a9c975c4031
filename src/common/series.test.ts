import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ObjectGauges } from './series.ts';

const lines = async (r: Registry) => (await r.metrics()).split('\n').filter((l) => l.startsWith('t_'));

describe('ObjectGauges', () => {
  it("keeps exactly what the last record of an object set, and other objects' series", async () => {
    const r = new Registry();
    const g = new ObjectGauges(r, {
      up: { name: 't_up', help: 'h' },
      lag: { name: 't_lag', help: 'h', labels: ['member'] },
    });
    g.record('ns', 'a', (set) => {
      set('up', 1);
      set('lag', 3, { member: 'a-0' });
      set('lag', 4, { member: 'a-1' });
    });
    g.record('ns', 'b', (set) => set('up', 0));
    expect(await lines(r)).toEqual([
      't_up{namespace="ns",name="a"} 1',
      't_up{namespace="ns",name="b"} 0',
      't_lag{namespace="ns",name="a",member="a-0"} 3',
      't_lag{namespace="ns",name="a",member="a-1"} 4',
    ]);
    // a-1 left; a-0 not measured this time (undefined): neither keeps a stale series.
    g.record('ns', 'a', (set) => {
      set('up', 1);
      set('lag', undefined, { member: 'a-0' });
    });
    expect(await lines(r)).toEqual(['t_up{namespace="ns",name="a"} 1', 't_up{namespace="ns",name="b"} 0']);
    g.forget('ns', 'a');
    expect(await lines(r)).toEqual(['t_up{namespace="ns",name="b"} 0']);
  });
});
