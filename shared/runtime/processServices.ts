import { ConfigError, configWarnings, loadConfig, type Config } from '../config.js';
import { MisconfiguredError } from '../errors.js';
import { createServices, type Services } from '../services.js';

/*
 * The process's services: built from the environment at first use and then kept, for the
 * function handlers (through handle()) and the timer. The local host and tests install their
 * own with useServices().
 */

let current: Promise<Services> | undefined;
let configFailure: ConfigError | undefined;

/**
 * The process's services, built from the environment on first use — as the Functions worker
 * loads the function files before any request, a bad setting shows up here, at the first
 * request, never at start-up. It then stays: app settings do not change under a running
 * instance (changing them restarts it), so every later call fails the same way, at once.
 * The failure is a `misconfigured` ServiceError (503) naming the bad settings, never their
 * values; `onMisconfigured` runs once per instance so the log names them once.
 */
export function getServices(onMisconfigured?: (error: ConfigError) => void): Promise<Services> {
  if (!current && !configFailure) {
    let config: Config;
    try {
      config = loadConfig();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      configFailure = error;
      onMisconfigured?.(error);
      return Promise.reject(misconfigured(error));
    }
    // Functions captures the console into the app's logs: once per process, at first use.
    for (const warning of configWarnings(config)) console.warn(`warning: ${warning}`);
    const created = createServices(config);
    current = created;
    // A failed start (say, an unreadable key file) is not kept, so the next request retries.
    created.catch(() => {
      if (current === created) current = undefined;
    });
  }
  if (configFailure) return Promise.reject(misconfigured(configFailure));
  return current as Promise<Services>;
}

function misconfigured(error: ConfigError): MisconfiguredError {
  return new MisconfiguredError(error.settings);
}

/** The problems of the current configuration, one line per bad setting (names, never values). */
export function configurationProblems(): readonly string[] {
  return configFailure?.problems ?? [];
}

/** Installs services built elsewhere: the local host at start-up, and tests. */
export function useServices(services: Services | Promise<Services>): void {
  current = Promise.resolve(services);
  configFailure = undefined;
}

/** Forgets the services and any configuration failure, so the next use reads the environment again (tests). */
export function resetServices(): void {
  current = undefined;
  configFailure = undefined;
}
