// Signs a proof with the Node.js client's own signProof (cli/device/identity.ts, built to dist/),
// from the PowerShell module's key and certificate files, so a test can compare the two bytes
// for bytes. Arguments: <dist/cli/device/identity.js> <key.pem> <cert.pem> <url> <bearer> <jti> <iat>
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [identityModule, keyPath, certificatePath, url, bearerToken, jti, iat] = process.argv.slice(2);
const { identityFromPem, signProof } = await import(pathToFileURL(identityModule).href);
const identity = identityFromPem(readFileSync(keyPath, 'utf8'), readFileSync(certificatePath, 'utf8'));
process.stdout.write(await signProof(identity, { method: 'POST', url, bearerToken, jti, iat: Number(iat) }));
