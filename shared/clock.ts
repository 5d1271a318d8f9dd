/** Time source, injectable so tests can freeze and move time. Seconds since the epoch. */
export interface Clock {
  now(): number;
  /** Epoch milliseconds, where the clock has them (the audit trail's times); else now() * 1000. */
  nowMs?(): number;
}

export const systemClock: Clock = { now: () => Math.floor(Date.now() / 1000), nowMs: () => Date.now() };

export function nowMs(clock: Clock): number {
  return clock.nowMs?.() ?? clock.now() * 1000;
}

export const maxClockSkewSeconds = 300;

export function isoTime(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString();
}

export function epochSeconds(iso: string): number {
  return Math.floor(Date.parse(iso) / 1000);
}
