import { parseSchedule } from '../host/ncrontab.js';

/** The local host's NCRONTAB reader, used for the Next time in the timer's payload (host/ncrontab.ts). */
describe('NCRONTAB next occurrence (UTC)', () => {
  const at = new Date('2026-12-02T10:20:30Z');

  it.each([
    ['0 17 * * * *', '2026-12-02T11:17:00.000Z'],
    ['0 */5 * * * *', '2026-12-02T10:25:00.000Z'],
    ['30 20 10 * * *', '2026-12-03T10:20:30.000Z'],
    ['0 0 0 1 1 *', '2027-01-01T00:00:00.000Z'],
    ['0 0 9 * * 1-5', '2026-12-03T09:00:00.000Z'],
    ['0 0 0 29 2 *', '2028-02-29T00:00:00.000Z'],
    ['15,45 * * * * *', '2026-12-02T10:20:45.000Z'],
  ])('%s after 10:20:30 on Wednesday 2 December 2026 is %s', (expression, next) => {
    expect(parseSchedule(expression).next(at).toISOString()).toBe(next);
  });

  it.each(['0 17 * * *', '0 61 * * * *', '0 0 0 * JAN *', 'bad', '0 5-1 * * * *'])('refuses %j', (expression) => {
    expect(() => parseSchedule(expression)).toThrow();
  });
});
