import { describe, expect, it } from 'vitest';
import { replicaSetObject as rs } from '../../../test/support/objects.ts';
import { ordinalOf, slotName, slotOrdinal, slotPrefix } from './names.ts';

describe('slot names', () => {
  it('are valid slot names, one per ordinal, and recognised only for their ReplicaSet', () => {
    expect(slotName(rs(), 0)).toBe('hors_reads_0');
    expect(slotOrdinal(rs(), 'hors_reads_12')).toBe(12);
    expect(slotOrdinal(rs(), 'hors_reads_x')).toBeUndefined();
    expect(slotOrdinal(rs({}, 'reads-2'), 'hors_reads_2_0')).toBe(0);
    expect(slotOrdinal(rs(), 'hors_reads_2_0')).toBeUndefined();
    const long = rs({}, `${'a'.repeat(30)}-${'b'.repeat(32)}`);
    const other = rs({}, `${'a'.repeat(30)}-${'b'.repeat(31)}c`);
    expect(slotName(long, 15)).toMatch(/^[a-z0-9_]{1,63}$/);
    expect(slotPrefix(long)).not.toBe(slotPrefix(other));
  });
  it('maps pod names to ordinals', () => {
    expect(ordinalOf(rs(), 'reads-replica-3')).toBe(3);
    expect(ordinalOf(rs(), 'reads-replica-03')).toBeUndefined();
    expect(ordinalOf(rs(), 'other-replica-3')).toBeUndefined();
  });
});
