import type { EntraRequest } from './adminAccess.js';

/**
 * A Microsoft Entra ID access token for the admin API, through @azure/identity: the Azure
 * CLI's login by default (it runs `az account get-access-token --resource <audience>`), or a
 * device-code sign-in whose instructions go to `prompt`. Loaded only when used: the identity
 * library costs more start-up time than the rest of the CLI.
 */
export async function entraToken(request: EntraRequest, prompt: (line: string) => void): Promise<string> {
  const { AzureCliCredential, DeviceCodeCredential } = await import('@azure/identity');
  const tenant = request.tenant === undefined ? {} : { tenantId: request.tenant };
  const credential = request.deviceCode
    ? new DeviceCodeCredential({ ...tenant, userPromptCallback: (info) => prompt(info.message) })
    : new AzureCliCredential(tenant);
  const token = await credential.getToken(`${request.audience.replace(/\/$/, '')}/.default`);
  return token.token;
}
