export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __azurite__?: { close(): Promise<void> } }).__azurite__?.close();
}
