import { describe, expect, it } from 'vitest';
import { adminRoutesEnabled } from './admin-env.ts';

describe('SAAS_SIM_ADMIN', () => {
  it('mounts the admin routes outside production', () => {
    expect(adminRoutesEnabled('development', {})).toBe(true);
    expect(adminRoutesEnabled('test', {})).toBe(true);
  });

  it('leaves them out in production unless set to true', () => {
    expect(adminRoutesEnabled('production', {})).toBe(false);
    expect(adminRoutesEnabled('production', { SAAS_SIM_ADMIN: 'false' })).toBe(false);
    expect(adminRoutesEnabled('production', { SAAS_SIM_ADMIN: 'true' })).toBe(true);
  });

  it('refuses anything but true or false', () => {
    expect(() => adminRoutesEnabled('production', { SAAS_SIM_ADMIN: 'yes' })).toThrow(/SAAS_SIM_ADMIN/);
  });
});
