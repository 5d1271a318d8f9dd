import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';

/**
 * Shares one token request among callers that ask for the same token at the same time.
 * Every table client has its own bearer-token policy, and on a cold start they all ask at
 * once: neither @azure/identity nor MSAL joins concurrent requests, so an instance would
 * call the identity endpoint once per table, and a scale-out multiplies that into the
 * endpoint's throttling. Tokens are still cached by the credential underneath; this only
 * joins requests in flight.
 */
export class SharedTokenRequests implements TokenCredential {
  private readonly inFlight = new Map<string, Promise<AccessToken | null>>();

  constructor(private readonly credential: TokenCredential) {}

  getToken(scopes: string | string[], options: GetTokenOptions = {}): Promise<AccessToken | null> {
    // A claims challenge or a proof-of-possession token is specific to one request.
    if (options.claims !== undefined || options.proofOfPossessionOptions !== undefined) return this.credential.getToken(scopes, options);
    const key = JSON.stringify([[scopes].flat(), options.tenantId ?? null, options.enableCae ?? false]);
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    // Without the first caller's abort signal: one caller giving up must not fail the others.
    const { abortSignal: _callerSignal, ...shared } = options;
    const request = this.credential.getToken(scopes, shared).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, request);
    return request;
  }
}

/**
 * DefaultAzureCredential, with @azure/identity loaded on the first token request. Locally,
 * with a connection string and a local signing key, no token is ever requested, and not
 * loading the package saves about 0.3 s of start-up (docs/performance.md, start-up).
 */
class DefaultCredentialOnFirstUse implements TokenCredential {
  private credential: Promise<TokenCredential> | undefined;

  getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    this.credential ??= import('@azure/identity').then(({ DefaultAzureCredential }) => new DefaultAzureCredential());
    return this.credential.then((credential) => credential.getToken(scopes, options));
  }
}

let processCredential: TokenCredential | undefined;

/**
 * The process's one Azure credential, for every table client and the Key Vault client: the
 * managed identity in Azure (AZURE_CLIENT_ID names it), the developer's login locally.
 */
export function azureCredential(): TokenCredential {
  processCredential ??= new SharedTokenRequests(new DefaultCredentialOnFirstUse());
  return processCredential;
}
