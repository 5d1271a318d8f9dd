import { ServiceError } from '../errors.js';

/**
 * How many tokens one device may be issued: at most `burst` per `windowSeconds`, renewals
 * and repeated registrations counted together (docs/decisions/0015-token-pacing.md). Every
 * token is a Key Vault signature, and the vault's signing budget is shared by every device:
 * without this, one compromised device could spend it for all of them.
 *
 * The state is the times of the device's latest issues, kept in the pairing itself, which
 * every issue rewrites anyway (under its ETag): pacing costs no Table request of its own.
 */
export class TokenPacing {
  constructor(private readonly policy: { burst: number; windowSeconds: number }) {}

  /** Throws 429 rate_limited, with the seconds until the next issue is allowed, when `issues` fill the window. */
  check(issues: readonly number[] | undefined, now: number): void {
    const recent = this.recent(issues, now);
    if (recent.length < this.policy.burst) return;
    // The oldest of the last `burst` issues leaves the window first.
    const oldest = recent[recent.length - this.policy.burst] ?? now;
    const retryAfterSeconds = Math.max(1, oldest + this.policy.windowSeconds - now);
    throw new ServiceError(
      'rate_limited',
      `this device has been issued ${recent.length} tokens in the last ${describeWindow(this.policy.windowSeconds)} ` +
        `(at most ${this.policy.burst} are allowed); retry in ${retryAfterSeconds} s`,
      { retryAfterSeconds },
    );
  }

  /** The issues to store after one more at `at`: only those inside the window, at most `burst`. */
  record(issues: readonly number[] | undefined, at: number): number[] {
    return [...this.recent(issues, at), at].slice(-this.policy.burst);
  }

  private recent(issues: readonly number[] | undefined, now: number): number[] {
    // An issue "in the future" (a clock stepped back) still counts: it happened.
    return (issues ?? []).filter((issuedAt) => issuedAt > now - this.policy.windowSeconds).sort((a, b) => a - b);
  }
}

function describeWindow(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60} minutes` : `${seconds} s`;
}
