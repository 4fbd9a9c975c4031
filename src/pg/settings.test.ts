import { describe, expect, it } from 'vitest';
import { checkSetting, type SettingRow } from './settings.ts';

// As pg_settings describes them on PostgreSQL 15.
const row = (r: Partial<SettingRow> & Pick<SettingRow, 'name' | 'vartype'>): SettingRow => ({
  context: 'postmaster',
  unit: null,
  min_val: null,
  max_val: null,
  enumvals: null,
  ...r,
});
const sharedBuffers = row({
  name: 'shared_buffers',
  vartype: 'integer',
  unit: '8kB',
  min_val: '16',
  max_val: '1073741823',
});
const checkpointTimeout = row({
  name: 'checkpoint_timeout',
  vartype: 'integer',
  unit: 's',
  min_val: '30',
  max_val: '86400',
});
const hugePages = row({ name: 'huge_pages', vartype: 'enum', enumvals: ['off', 'on', 'try'] });
const scale = row({ name: 'autovacuum_vacuum_scale_factor', vartype: 'real', min_val: '0', max_val: '100' });
const autovacuum = row({ name: 'autovacuum', vartype: 'bool' });

describe('checkSetting', () => {
  it.each([
    [sharedBuffers, '128MB', undefined],
    [sharedBuffers, '0x10', undefined],
    [sharedBuffers, '1.5MB', undefined],
    [sharedBuffers, '8XB', /invalid value for parameter "shared_buffers": "8XB"; Valid units .*"kB"/],
    [sharedBuffers, '128mb', /invalid value/], // units are case-sensitive
    [sharedBuffers, '12', /^12 8kB is outside the valid range for parameter "shared_buffers" \(16 8kB \.\. /],
    [checkpointTimeout, '5min', undefined],
    [checkpointTimeout, '300000ms', undefined],
    [checkpointTimeout, '1d', undefined],
    [checkpointTimeout, '2d', /172800 s is outside the valid range/],
    [checkpointTimeout, '10', /10 s is outside/],
    [checkpointTimeout, '5 parsecs', /Valid units for this parameter are "us"/],
    [hugePages, 'TRY', undefined],
    [hugePages, 'true', undefined],
    [hugePages, 'maybe', /Available values: off, on, try/],
    [scale, '0.05', undefined],
    [scale, '200', /200 is outside the valid range/],
    [scale, '1kB', /invalid value/], // no unit for a unitless setting
    [autovacuum, 'of', undefined],
    [autovacuum, 'y', undefined],
    [autovacuum, 'o', /requires a Boolean value/],
    [autovacuum, 'maybe', /requires a Boolean value/],
  ] as const)('%s = %s', (r, value, want) => {
    const why = checkSetting(r, value);
    if (want === undefined) expect(why).toBeUndefined();
    else expect(why).toMatch(want);
  });
});
