import { createDeviceIdentity, type DeviceIdentity, type KeyType } from '../../cli/device/identity.js';
import { createBulkToken } from '../../functions/createBulkToken.js';
import { registerDevice } from '../../functions/registerDevice.js';
import { deviceCall } from './devices.js';
import { bearer, invoke } from './invoke.js';
import { testAdminKey } from './services.js';

/** A bulk registration token from the admin API of the process's services. */
export async function adminBulkToken(lifetimeMinutes = 10_080): Promise<string> {
  const answer = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: bearer(testAdminKey), body: { lifetimeMinutes } });
  if (answer.status !== 201) throw new Error(`creating a bulk token answered ${answer.status}`);
  return answer.body.token as string;
}

export interface EnrolledDevice {
  device: DeviceIdentity;
  deviceId: string;
  token: string;
}

/** A new device registered with `bulkToken` at the clock's `now`. */
export async function enrolledDevice(bulkToken: string, now: number, keyType: KeyType = 'ec'): Promise<EnrolledDevice> {
  const device = await createDeviceIdentity(keyType);
  const answer = await invoke(registerDevice, await deviceCall(device, '/api/register', { bearer: bulkToken, now }));
  if (answer.status !== 201) throw new Error(`registration answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return { device, deviceId: answer.body.deviceId as string, token: answer.body.token as string };
}
