import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RealPool } from '../../../src/lb/pool.js';
import { createScheduler, SCHEDULER_NAMES } from '../../../src/lb/schedulers.js';
import { v4 } from './helpers.js';

const realArb = fc.record({
  weight: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 0, max: 65535 })),
  up: fc.boolean(),
  active: fc.integer({ min: 0, max: 1000 }),
  inactive: fc.integer({ min: 0, max: 1000 }),
});

const changeArb = fc.record({
  real: fc.nat(),
  weight: fc.integer({ min: 0, max: 5 }),
  up: fc.boolean(),
  remove: fc.boolean(),
});

describe('property: pick returns -1 iff no real is available, else an available real', () => {
  it.each(SCHEDULER_NAMES)('%s', (name) => {
    fc.assert(
      fc.property(
        fc.array(realArb, { maxLength: 12 }),
        fc.array(fc.tuple(fc.integer(), fc.integer({ min: 0, max: 65535 })), { minLength: 1, maxLength: 20 }),
        fc.array(changeArb, { maxLength: 4 }),
        (reals, picks, changes) => {
          const pool = new RealPool(2);
          reals.forEach((r, i) => {
            pool.add(v4(0x0a000000 + i), 80, r.weight, r.up);
            for (let k = 0; k < r.active; k++) pool.connUp(i, true);
            for (let k = 0; k < r.inactive; k++) pool.connUp(i, false);
          });
          const s = createScheduler(name, pool, { mhTableSize: 1201 });
          const check = (): void => {
            const any = pool.availableCount() > 0;
            for (const [a, port] of picks) {
              const r = s.pick(v4(a), port);
              if (!any) expect(r).toBe(-1);
              else expect(pool.available(r)).toBe(true);
            }
          };
          check();
          for (const c of changes) {
            if (reals.length === 0) break;
            const i = c.real % reals.length;
            if (!pool.isMember(i)) continue;
            if (c.remove) pool.remove(i);
            else {
              pool.setWeight(i, c.weight);
              pool.setUp(i, c.up);
            }
            check();
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
