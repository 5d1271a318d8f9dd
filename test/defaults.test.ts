import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultPurgeSchedule, settingDefault } from '../shared/config.js';
import { projectRoot } from './support/localHost.js';

/**
 * One source for each default: shared/config.ts's schema. infra/main.bicep cannot import it,
 * so every app setting that the template sets straight from a parameter with a default must
 * default to what the service assumes when the setting is missing; the local host and the
 * example local settings use the config's value too.
 */

const bicep = readFileSync(join(projectRoot, 'infra', 'main.bicep'), 'utf8');

/** `param name type = literal` (a string, number or boolean literal) → the literal's value. */
function bicepParameterDefaults(): Map<string, string> {
  const defaults = new Map<string, string>();
  for (const match of bicep.matchAll(/^param (\w+) (?:string|int|bool) = ('(?:[^'\\]|\\.)*'|-?\d+|true|false)\s*$/gm)) {
    const [, name, literal] = match as unknown as [string, string, string];
    defaults.set(name, literal.startsWith("'") ? literal.slice(1, -1) : literal);
  }
  return defaults;
}

/** `SETTING: param` or `SETTING: string(param)` in the app settings → the parameter's name. */
function appSettingParameters(): Map<string, string> {
  const settings = new Map<string, string>();
  for (const match of bicep.matchAll(/^\s+([A-Z][A-Z0-9_]+): (?:string\((\w+)\)|(\w+))\s*$/gm)) {
    const [, setting, wrapped, plain] = match;
    settings.set(setting ?? '', wrapped ?? plain ?? '');
  }
  return settings;
}

/**
 * Settings whose template default differs on purpose, with the reason. Nothing else may.
 */
const differentInAzure: Record<string, string> = {
  // The service's default is loopback, for a local run; in Azure loopback never reaches the
  // app, so the template names no network and internal registration stays closed until the
  // operator names the devices' networks.
  INTERNAL_NETWORKS: '',
  // Locally a registration is approved at once, so a first try works end to end; a deployment
  // starts with an administrator approving each internally registered device.
  APPROVAL_MODE: 'manual',
};

describe('defaults', () => {
  it("infra/main.bicep's parameter defaults equal the service's own defaults for the settings they feed", () => {
    const parameters = bicepParameterDefaults();
    const compared: string[] = [];
    for (const [setting, parameter] of appSettingParameters()) {
      const ours = settingDefault(setting);
      const theirs = parameters.get(parameter);
      if (ours === undefined || theirs === undefined) continue;
      compared.push(setting);
      const expected = Object.hasOwn(differentInAzure, setting) ? differentInAzure[setting] : String(ours);
      expect({ setting, bicep: theirs }).toEqual({ setting, bicep: expected });
    }
    // The comparison must have found what it is for, or it would pass by matching nothing.
    expect(compared).toEqual(expect.arrayContaining(['PURGE_SCHEDULE', 'KEY_REFRESH_SECONDS', 'REPLAY_SHARDS']));
  });

  it('PURGE_SCHEDULE: the schema, the local host and the example local settings agree', () => {
    expect(settingDefault('PURGE_SCHEDULE')).toBe(defaultPurgeSchedule);
    const example = JSON.parse(readFileSync(join(projectRoot, 'local.settings.example.json'), 'utf8')) as { Values: Record<string, string> };
    expect(example.Values.PURGE_SCHEDULE).toBe(defaultPurgeSchedule);
    const host = readFileSync(join(projectRoot, 'host', 'main.ts'), 'utf8');
    expect(host).toContain('env.PURGE_SCHEDULE = defaultPurgeSchedule;');
    expect(host).not.toMatch(/'0 17 \* \* \* \*'/);
  });
});
