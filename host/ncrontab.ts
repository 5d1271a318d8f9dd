/**
 * Six-field NCRONTAB schedules (second minute hour day month day-of-week), as the timer
 * trigger reads them: `*`, numbers, ranges `a-b`, steps `/n` and lists. Enough for the local
 * host to say when a schedule next fires, in the payload it hands the timer; names of months
 * and days (JAN, MON) are not supported and are refused rather than misread. Times are UTC.
 */
export interface Schedule {
  next(after: Date): Date;
}

const fieldRanges: ReadonlyArray<readonly [number, number]> = [
  [0, 59],
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 6],
];

export function parseSchedule(expression: string): Schedule {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 6) throw new Error(`"${expression}" is not a six-field NCRONTAB expression`);
  const [seconds, minutes, hours, days, months, weekdays] = fields.map((field, index) => parseField(field, fieldRanges[index] ?? [0, 0], expression));
  if (!seconds || !minutes || !hours || !days || !months || !weekdays) throw new Error(`"${expression}" is not valid`);
  // 7 is also Sunday in cron.
  if (weekdays.has(7)) weekdays.add(0);
  return {
    next(after: Date): Date {
      const start = Math.floor(after.getTime() / 1000) * 1000 + 1000;
      const first = new Date(start);
      // Day by day for up to five years (covers 29 February); within a day, the sets.
      for (let dayOffset = 0; dayOffset < 366 * 5; dayOffset++) {
        const day = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), first.getUTCDate() + dayOffset));
        if (!months.has(day.getUTCMonth() + 1) || !days.has(day.getUTCDate()) || !weekdays.has(day.getUTCDay())) continue;
        for (const hour of sorted(hours)) {
          for (const minute of sorted(minutes)) {
            for (const second of sorted(seconds)) {
              const candidate = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), hour, minute, second);
              if (candidate >= start) return new Date(candidate);
            }
          }
        }
      }
      throw new Error(`"${expression}" never fires`);
    },
  };
}

function parseField(field: string, [min, max]: readonly [number, number], expression: string): Set<number> {
  const values = new Set<number>();
  for (const part of field.split(',')) {
    const match = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!match) throw new Error(`"${expression}": "${part}" is not a supported NCRONTAB field`);
    const from = match[1] === '*' ? min : Number(match[2]);
    const to = match[1] === '*' ? max : match[3] !== undefined ? Number(match[3]) : match[4] !== undefined ? max : from;
    const step = match[4] !== undefined ? Number(match[4]) : 1;
    const upper = max === 6 ? 7 : max;
    if (from < min || to > upper || from > to || step < 1) throw new Error(`"${expression}": "${part}" is out of range ${min}-${max}`);
    for (let value = from; value <= to; value += step) values.add(value);
  }
  return values;
}

function sorted(values: Set<number>): number[] {
  return [...values].sort((a, b) => a - b);
}
