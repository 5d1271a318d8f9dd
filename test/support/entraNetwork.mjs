/* global URL, Request */
// Preloaded into a local host (NODE_OPTIONS=--import) by tests that fake a Microsoft Entra
// tenant: requests to the identity platform go to FAKE_ENTRA_ORIGIN instead, so the service's
// unchanged code fetches the tenant's signing keys from the test's key server.
const target = process.env.FAKE_ENTRA_ORIGIN;
const realFetch = globalThis.fetch;
if (target) {
  globalThis.fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin !== 'https://login.microsoftonline.com') return realFetch(input, init);
    return realFetch(new URL(`${url.pathname}${url.search}`, target), init);
  };
}
