import { createHmac, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import type { DeviceIdentity } from '../../cli/device/identity.js';
import type { TokenSigner } from '../../shared/signing/signer.js';
import {
  b64url,
  certificateBase64,
  decodeSegment,
  proofAlgorithmsFor,
  proofParts,
  proofTyp,
  sameJws,
  segment,
  serviceSigned,
  sha256url,
  signProofParts,
} from './jwsForge.js';

/**
 * Fuzz inputs as plans: fast-check generates plain data (which variant, where to cut, what
 * to put), and the materializers below turn a plan into a request. Plans print readably in
 * a counterexample and shrink like any data; materializing needs keys and the service's
 * tokens, which are not the generator's business.
 *
 * Every materializer also says whether its part of the request could be valid. The fuzz
 * allows a success, and table writes, only where every part could be; that judgement is
 * made here from docs/protocol.md, independently of the service's code.
 */

// ---------------------------------------------------------------------------------------
// Text

/** Characters a header value can hold (no NUL, CR, LF; one byte each). */
const headerUnit = fc
  .integer({ min: 1, max: 0xff })
  .filter((code) => code !== 0x0a && code !== 0x0d)
  .map((code) => String.fromCharCode(code));
export const headerText = (maxLength: number) => fc.string({ unit: headerUnit, maxLength });

/** What a header value becomes on the way in: HTTP whitespace at either end is dropped. */
export function headerValueSeen(value: string): string {
  return value.replace(/^[\t ]+|[\t ]+$/g, '');
}

const tokenUnit = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+/= %!"#$&\'()*,:;<>?@[\\]^`{|}');
const tokenText = (maxLength: number) => fc.string({ unit: tokenUnit, minLength: 1, maxLength });
/** Characters that keep a token inside the bearer grammar, and some that do not. */
const b64Char = fc.constantFrom(...'AQgwBRhxzZ09-_+/=.~ !*');

const json = fc.jsonValue({ maxDepth: 3 });

/** Values that break code which assumes a type: odd numbers, containers, empty and huge strings. */
export const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<unknown>(null, true, false, 0, -1, 1.5, 1e21, -0, 2 ** 53 + 2, '', ' ', '0', 'null', [], {}, [null], { '': '' }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>('x'.repeat(5000), '\u0000', '\ud800', '\u202e', '%00', '../../etc/passwd') },
  { weight: 2, arbitrary: json },
);

const fraction = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Sets a member; defineProperty, so that a name such as __proto__ becomes a real member. */
function setMember(object: Record<string, unknown>, name: string, value: unknown): void {
  Object.defineProperty(object, name, { value, enumerable: true, writable: true, configurable: true });
}

// ---------------------------------------------------------------------------------------
// JWS structure: mutations that apply to any compact JWS, token or proof

export type JwsMutation =
  | { at: 'sig-flip'; pos: number; char: string }
  | { at: 'sig-cut'; keep: number }
  | { at: 'sig-empty' }
  | { at: 'sig-swap' }
  | { at: 'sig-append'; text: string }
  | { at: 'sig-space'; pos: number }
  | { at: 'cut'; keep: number }
  | { at: 'swap' }
  | { at: 'drop'; index: number }
  | { at: 'add-segment'; text: string }
  | { at: 'std-base64'; index: number }
  | { at: 'flip'; index: number; pos: number; char: string }
  | { at: 'insert'; pos: number; text: string }
  | { at: 'replace'; text: string };

export const jwsMutation: fc.Arbitrary<JwsMutation> = fc.oneof(
  fc.record({ at: fc.constant('sig-flip' as const), pos: fraction, char: b64Char }),
  fc.record({ at: fc.constant('sig-cut' as const), keep: fraction }),
  fc.constant({ at: 'sig-empty' as const }),
  fc.constant({ at: 'sig-swap' as const }),
  fc.record({ at: fc.constant('sig-append' as const), text: tokenText(4) }),
  fc.record({ at: fc.constant('sig-space' as const), pos: fraction }),
  fc.record({ at: fc.constant('cut' as const), keep: fraction }),
  fc.constant({ at: 'swap' as const }),
  fc.record({ at: fc.constant('drop' as const), index: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ at: fc.constant('add-segment' as const), text: fc.oneof(fc.constant(''), tokenText(20)) }),
  fc.record({ at: fc.constant('std-base64' as const), index: fc.integer({ min: 0, max: 1 }) }),
  fc.record({ at: fc.constant('flip' as const), index: fc.integer({ min: 0, max: 1 }), pos: fraction, char: b64Char }),
  fc.record({ at: fc.constant('insert' as const), pos: fraction, text: tokenText(8) }),
  fc.record({ at: fc.constant('replace' as const), text: tokenText(60) }),
);

function indexAt(text: string, pos: number): number {
  return Math.floor(pos * text.length);
}

function setChar(text: string, pos: number, char: string): string {
  if (text === '') return char;
  const index = indexAt(text, pos);
  return `${text.slice(0, index)}${char}${text.slice(index + 1)}`;
}

/** Applies a structural mutation; `other` is another JWS of the same kind, for signature swaps. */
export function mutateJws(jws: string, mutation: JwsMutation, other: string): string {
  const parts = jws.split('.');
  const [header = '', payload = '', signature = ''] = parts;
  switch (mutation.at) {
    case 'sig-flip':
      return `${header}.${payload}.${setChar(signature, mutation.pos, mutation.char)}`;
    case 'sig-cut':
      return `${header}.${payload}.${signature.slice(0, indexAt(signature, mutation.keep))}`;
    case 'sig-empty':
      return `${header}.${payload}.`;
    case 'sig-swap':
      return `${header}.${payload}.${other.split('.')[2] ?? ''}`;
    case 'sig-append':
      return `${jws}${mutation.text}`;
    case 'sig-space': {
      const index = indexAt(signature, mutation.pos);
      return `${header}.${payload}.${signature.slice(0, index)} ${signature.slice(index)}`;
    }
    case 'cut':
      return jws.slice(0, indexAt(jws, mutation.keep));
    case 'swap':
      return `${payload}.${header}.${signature}`;
    case 'drop':
      return parts.filter((_, index) => index !== mutation.index).join('.');
    case 'add-segment':
      return `${jws}.${mutation.text}`;
    case 'std-base64': {
      const changed = [...parts];
      changed[mutation.index] = Buffer.from(changed[mutation.index] ?? '', 'base64url').toString('base64');
      return changed.join('.');
    }
    case 'flip': {
      const changed = [...parts];
      changed[mutation.index] = setChar(changed[mutation.index] ?? '', mutation.pos, mutation.char);
      return changed.join('.');
    }
    case 'insert': {
      const index = indexAt(jws, mutation.pos);
      return `${jws.slice(0, index)}${mutation.text}${jws.slice(index)}`;
    }
    case 'replace':
      return mutation.text;
  }
}

// ---------------------------------------------------------------------------------------
// Bearer tokens: the service's real tokens, then changed

/** Which real credential a request starts from. */
export type TokenChoice =
  | 'device'
  | 'device-rsa'
  | 'device-revoked'
  | 'device-expired'
  | 'bulk'
  | 'bulk-blocked'
  | 'bulk-used-up'
  | 'bulk-expired'
  | 'proof'
  | 'admin-key'
  | 'random';

export type HeaderChange = { set: string; value: unknown } | { drop: string } | { replace: unknown };
export type ClaimChange = { set: string; value: unknown } | { drop: string } | { huge: number } | { replace: unknown } | { shift: string; by: number };

export type TokenMutation =
  | { at: 'keep' }
  | { at: 'jws'; mutation: JwsMutation }
  | { at: 'header'; change: HeaderChange; resign: boolean }
  | { at: 'claims'; change: ClaimChange; resign: boolean }
  | { at: 'alg-none'; signature: 'empty' | 'original' }
  | { at: 'hmac'; secret: 'jwk-json' | 'pem' | 'modulus' }
  | { at: 'foreign'; advertise: 'none' | 'jwk' | 'jku' | 'x5u'; kid: 'ours' | 'theirs' };

const tokenHeaderNames = ['alg', 'kid', 'typ', 'jku', 'x5u', 'jwk', 'crit', 'cty', 'x5c', 'b64', 'zip', 'enc'];
const tokenClaimNames = ['iss', 'aud', 'sub', 'jti', 'iat', 'nbf', 'exp', 'cnf', 'reg', 'brt', 'tid'];

const headerChange: fc.Arbitrary<HeaderChange> = fc.oneof(
  fc.record({
    set: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...tokenHeaderNames) }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) }),
    value: fc.oneof(
      fc.constantFrom<unknown>(
        'none', 'None', 'HS256', 'RS256', 'PS256', 'ES256', 'ES384', 'EdDSA', 'RS512', 'device+jwt', 'bulk-registration+jwt', 'JWT', proofTyp,
        ['b64'], ['exp'], 'http://127.0.0.1:9/jwks.json', '../../etc/passwd', 'a\u0000b', 'k'.repeat(3000),
      ),
      oddValue,
    ),
  }),
  fc.record({ drop: fc.constantFrom('alg', 'kid', 'typ') }),
  fc.record({ replace: oddValue }),
);

const claimChange: fc.Arbitrary<ClaimChange> = fc.oneof(
  fc.record({
    set: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...tokenClaimNames) }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) }),
    value: fc.oneof(
      fc.constantFrom<unknown>(
        'cmg-token-auth', 'someone-else', ['cmg-token-auth'], ['other', 'cmg-token-auth'], 'bulk', 'internal', 'evil',
        { 'x5t#S256': 5 }, { 'x5t#S256': 'AAAA' }, {}, 'a/b#c?d', "o'brien", 'x\\y', '\u0001',
      ),
      oddValue,
    ),
  }),
  fc.record({ drop: fc.constantFrom(...tokenClaimNames) }),
  fc.record({ huge: fc.constantFrom(1000, 5000, 9000) }),
  fc.record({ replace: oddValue }),
  fc.record({ shift: fc.constantFrom('exp', 'nbf', 'iat'), by: fc.constantFrom(-400 * 86_400, -301, -299, 299, 301, 86_400, 1e12) }),
);

export const tokenMutation: fc.Arbitrary<TokenMutation> = fc.oneof(
  { weight: 10, arbitrary: fc.constant({ at: 'keep' as const }) },
  { weight: 6, arbitrary: fc.record({ at: fc.constant('jws' as const), mutation: jwsMutation }) },
  { weight: 3, arbitrary: fc.record({ at: fc.constant('header' as const), change: headerChange, resign: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ at: fc.constant('claims' as const), change: claimChange, resign: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ at: fc.constant('alg-none' as const), signature: fc.constantFrom('empty' as const, 'original' as const) }) },
  { weight: 1, arbitrary: fc.record({ at: fc.constant('hmac' as const), secret: fc.constantFrom('jwk-json' as const, 'pem' as const, 'modulus' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      at: fc.constant('foreign' as const),
      advertise: fc.constantFrom('none' as const, 'jwk' as const, 'jku' as const, 'x5u' as const),
      kid: fc.constantFrom('ours' as const, 'theirs' as const),
    }),
  },
);

/** `service-signed`: signed by the service's own key with changed content; no attacker can make it. */
export type TokenValidity = 'valid' | 'service-signed' | 'invalid';

/** An attacker's key pair, and the service's public key in the forms an HMAC confusion uses. */
export interface TokenForge {
  signer: TokenSigner;
  attacker: { privateKey: KeyObject; publicJwk: Record<string, unknown> };
  publicJwkJson: string;
  publicPem: string;
  modulus: string;
}

export async function tokenForge(signer: TokenSigner): Promise<TokenForge> {
  const [jwk] = await signer.publicKeys();
  if (!jwk) throw new Error('the signer publishes no key');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    signer,
    attacker: { privateKey, publicJwk: publicKey.export({ format: 'jwk' }) },
    publicJwkJson: JSON.stringify(jwk),
    publicPem: createPublicKey({ key: { ...jwk }, format: 'jwk' }).export({ format: 'pem', type: 'spki' }).toString(),
    modulus: String(jwk.n ?? jwk.x ?? ''),
  };
}

function withChange(target: unknown, change: HeaderChange | ClaimChange, now: number): unknown {
  if ('replace' in change) return change.replace;
  const object: Record<string, unknown> = isObject(target) ? { ...target } : {};
  if ('drop' in change) delete object[change.drop];
  else if ('huge' in change) object.pad = 'p'.repeat(change.huge);
  else if ('shift' in change) object[change.shift] = (typeof object[change.shift] === 'number' ? (object[change.shift] as number) : now) + change.by;
  else setMember(object, change.set, change.value);
  return object;
}

/** Builds the token a plan describes from a real token (`original`) and another of its kind. */
export async function materializeToken(
  original: string,
  other: string,
  mutation: TokenMutation,
  forge: TokenForge,
  now: number,
): Promise<{ token: string; validity: TokenValidity }> {
  const [headerSegment = '', payloadSegment = '', signature = ''] = original.split('.');
  let header: Record<string, unknown> = {};
  let claims: Record<string, unknown> = {};
  try {
    header = decodeSegment(headerSegment);
    claims = decodeSegment(payloadSegment);
  } catch {
    // Not a JWS (the admin key, random text): only structural mutations mean anything.
  }
  const judged = (token: string, resigned = false): { token: string; validity: TokenValidity } => ({
    token,
    validity: sameJws(original, token) ? 'valid' : resigned ? 'service-signed' : 'invalid',
  });
  switch (mutation.at) {
    case 'keep':
      return judged(original);
    case 'jws':
      return judged(mutateJws(original, mutation.mutation, other));
    case 'header': {
      const changed = withChange(header, mutation.change, now);
      if (!mutation.resign) return judged(`${segment(changed)}.${payloadSegment}.${signature}`);
      return judged(await serviceSigned(forge.signer, changed, payloadSegment), true);
    }
    case 'claims': {
      const changed = segment(withChange(claims, mutation.change, now));
      if (!mutation.resign) return judged(`${headerSegment}.${changed}.${signature}`);
      return judged(await serviceSigned(forge.signer, header, changed), true);
    }
    case 'alg-none': {
      const none = `${segment({ ...header, alg: 'none' })}.${payloadSegment}.`;
      return judged(mutation.signature === 'empty' ? none : `${none}${signature}`);
    }
    case 'hmac': {
      const secret = mutation.secret === 'jwk-json' ? forge.publicJwkJson : mutation.secret === 'pem' ? forge.publicPem : forge.modulus;
      const input = `${segment({ ...header, alg: 'HS256' })}.${payloadSegment}`;
      return judged(`${input}.${b64url(createHmac('sha256', secret).update(input).digest())}`);
    }
    case 'foreign': {
      const advertised =
        mutation.advertise === 'jwk'
          ? { jwk: forge.attacker.publicJwk }
          : mutation.advertise === 'jku'
            ? { jku: 'http://127.0.0.1:9/jwks.json' }
            : mutation.advertise === 'x5u'
              ? { x5u: 'http://127.0.0.1:9/cert.pem' }
              : {};
      const foreignHeader = { ...header, alg: 'RS256', kid: mutation.kid === 'ours' ? header.kid : 'attacker-key', ...advertised };
      const input = `${segment(foreignHeader)}.${payloadSegment}`;
      return judged(`${input}.${b64url(sign('sha256', Buffer.from(input), forge.attacker.privateKey))}`);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Authorization header

/** What goes before the credential; the first four are correct spellings of the Bearer scheme. */
export const schemes: readonly string[] = ['Bearer ', 'bearer ', 'BEARER ', 'Bearer    ', 'Bearer', 'Bearer\t', 'Basic ', 'DPoP ', 'Token ', '', 'Bearer x ', 'Bearer ,'];

export type AuthPlan =
  | { kind: 'none' }
  | { kind: 'bearer'; scheme: number; choice: TokenChoice; mutation: TokenMutation; suffix: string }
  | { kind: 'raw'; value: string }
  | { kind: 'long'; scheme: number; length: number };

export const schemePlan = fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: schemes.length - 1 }) });

export function authPlan(choices: readonly TokenChoice[], good: readonly TokenChoice[]): fc.Arbitrary<AuthPlan> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
    {
      weight: 14,
      arbitrary: fc.record({
        kind: fc.constant('bearer' as const),
        scheme: schemePlan,
        choice: good.length === 0 ? fc.constantFrom(...choices) : fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...good) }, { weight: 2, arbitrary: fc.constantFrom(...choices) }),
        mutation: tokenMutation,
        suffix: fc.oneof({ weight: 9, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom(' ', ',', ' x', '  ', ', Bearer y') }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('raw' as const), value: headerText(120) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('long' as const), scheme: schemePlan, length: fc.constantFrom(8192, 8193, 20_000, 70_000) }) },
  );
}

export interface AuthBuilt {
  header: string | undefined;
  /** The credential as the service would extract it (what ath must hash). */
  credential: string | undefined;
  /** Unchanged real token of a kind this endpoint accepts, or one only the service could sign. */
  validity: TokenValidity;
  choice: TokenChoice | undefined;
}

export async function materializeAuth(
  plan: AuthPlan,
  credentials: (choice: TokenChoice) => { token: string; other: string },
  good: readonly TokenChoice[],
  forge: TokenForge,
  now: number,
): Promise<AuthBuilt> {
  switch (plan.kind) {
    case 'none':
      return { header: undefined, credential: undefined, validity: 'invalid', choice: undefined };
    case 'raw':
      return { header: plan.value, credential: undefined, validity: 'invalid', choice: undefined };
    case 'long': {
      const prefix = schemes[plan.scheme] ?? '';
      const token = 'A'.repeat(plan.length);
      return { header: `${prefix}${token}`, credential: token, validity: 'invalid', choice: undefined };
    }
    case 'bearer': {
      const prefix = schemes[plan.scheme] ?? '';
      const { token: original, other } = credentials(plan.choice);
      const built = await materializeToken(original, other, plan.mutation, forge, now);
      const header = `${prefix}${built.token}${plan.suffix}`;
      const credential = bearerCredentialOf(header);
      // Judged on the whole header: a scheme without its space plus a token that starts with
      // one is a perfectly good "Bearer <token>".
      const validity: TokenValidity =
        credential === undefined
          ? 'invalid'
          : built.validity === 'service-signed' && credential === built.token
            ? 'service-signed'
            : good.includes(plan.choice) && sameJws(original, credential)
              ? 'valid'
              : 'invalid';
      return { header, credential: credential ?? headerValueSeen(built.token), validity, choice: plan.choice };
    }
  }
}

/** RFC 6750 section 2.1: "Bearer" 1*SP b64token, the scheme case-insensitive (RFC 7235). */
export function bearerCredentialOf(header: string): string | undefined {
  return /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(headerValueSeen(header))?.[1];
}

// ---------------------------------------------------------------------------------------
// Proofs: real signed proofs, then changed

export type X5cVariant =
  | 'empty'
  | 'two'
  | 'number'
  | 'stranger'
  | 'base64url'
  | 'pem'
  | 'truncated'
  | 'garbage'
  | 'huge'
  | 'expired'
  | 'bad-spki'
  | 'not-array'
  | 'newlines';

export type ProofHeaderChange =
  | { set: 'typ' | 'alg'; value: unknown }
  | { set: 'x5c'; x5c: X5cVariant }
  | { set: 'extra'; name: string; value: unknown }
  | { set: 'crit'; value: unknown; b64: unknown }
  | { drop: 'typ' | 'alg' | 'x5c' }
  | { replace: unknown };

export type ProofClaimChange =
  | { set: 'htm'; value: unknown }
  | { set: 'htu'; value: string | number | null }
  | { set: 'iat'; offset: number }
  | { set: 'iat-value'; value: unknown }
  | { set: 'jti'; length: number; unit: 'ascii' | 'emoji' }
  | { set: 'jti-value'; value: unknown }
  | { set: 'ath'; ath: 'missing' | 'other' | 'number' | 'whole-header' | 'hex' | 'padded' }
  | { drop: 'htm' | 'htu' | 'iat' | 'jti' | 'ath' }
  | { extra: string; value: unknown }
  | { huge: number }
  | { replace: unknown }
  | { notJson: string };

export interface ProofPlan {
  /** `bound`: the device the request is about; `stranger`: another device with its own valid certificate. */
  signer: 'bound' | 'stranger';
  header: ProofHeaderChange[];
  claims: ProofClaimChange[];
  jws: JwsMutation | undefined;
}

export const x5cVariants: X5cVariant[] = ['empty', 'two', 'number', 'stranger', 'base64url', 'pem', 'truncated', 'garbage', 'huge', 'expired', 'bad-spki', 'not-array', 'newlines'];

const proofHeaderChange: fc.Arbitrary<ProofHeaderChange> = fc.oneof(
  fc.record({
    set: fc.constant('typ' as const),
    value: fc.oneof(fc.constantFrom<unknown>('JWT', 'dpop+jwt', 'device+jwt', 'Device-Proof+JWT', 'application/device-proof+jwt', `${proofTyp} `), oddValue),
  }),
  fc.record({ set: fc.constant('alg' as const), value: fc.oneof(fc.constantFrom<unknown>('none', 'HS256', 'RS256', 'PS256', 'ES256', 'ES384', 'es256', 'EdDSA'), oddValue) }),
  { weight: 3, arbitrary: fc.record({ set: fc.constant('x5c' as const), x5c: fc.constantFrom(...x5cVariants) }) },
  fc.record({
    set: fc.constant('extra' as const),
    name: fc
      .oneof(fc.constantFrom('kid', 'jku', 'x5u', 'jwk', 'cty', 'x5t#S256', 'nonce', 'b64', '__proto__'), fc.string({ maxLength: 6 }))
      .filter((name) => !['typ', 'alg', 'x5c', 'crit'].includes(name)),
    value: oddValue,
  }),
  fc.record({
    set: fc.constant('crit' as const),
    value: fc.constantFrom<unknown>(['b64'], ['exp'], [], 'b64', ['b64', 'b64'], [1]),
    b64: fc.constantFrom<unknown>(true, false, undefined, 'true'),
  }),
  fc.record({ drop: fc.constantFrom('typ' as const, 'alg' as const, 'x5c' as const) }),
  fc.record({ replace: oddValue }),
);

const proofClaimChange: fc.Arbitrary<ProofClaimChange> = fc.oneof(
  fc.record({ set: fc.constant('htm' as const), value: fc.oneof(fc.constantFrom<unknown>('POST', 'post', 'GET', 'PUT', 'POST ', ''), oddValue) }),
  {
    weight: 2,
    arbitrary: fc.record({
      set: fc.constant('htu' as const),
      // PATH stands for the endpoint's path without its leading slash; UPPER for it upper-cased.
      value: fc.constantFrom<string | number | null>(
        'http://gateway.example/PATH',
        'https://localhost:7071/PATH?x=1#frag',
        'HTTP://LOCALHOST:7071/PATH',
        'http://localhost:7071/PATH/',
        'http://localhost:7071/PATH%20',
        'http://localhost:7071/api/other',
        '/PATH',
        'UPPER',
        'http://localhost:7071/api/../PATH',
        'http://localhost:7071/api/%2e%2e/PATH',
        'http://[::1/PATH',
        'javascript:alert(1)',
        '',
        7071,
        null,
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ set: fc.constant('iat' as const), offset: fc.constantFrom(-86_400 * 365, -301, -300, -299, 0, 299, 300, 301, 86_400 * 365) }) },
  fc.record({ set: fc.constant('iat-value' as const), value: fc.constantFrom<unknown>('now', null, 1.5, 1e21, -1, 0, [], {}, 2 ** 53 + 2) }),
  fc.record({ set: fc.constant('jti' as const), length: fc.constantFrom(1, 15, 16, 17, 255, 256, 257, 5000), unit: fc.constantFrom('ascii' as const, 'emoji' as const) }),
  fc.record({ set: fc.constant('jti-value' as const), value: oddValue }),
  {
    weight: 2,
    arbitrary: fc.record({
      set: fc.constant('ath' as const),
      ath: fc.constantFrom('missing' as const, 'other' as const, 'number' as const, 'whole-header' as const, 'hex' as const, 'padded' as const),
    }),
  },
  fc.record({ drop: fc.constantFrom('htm' as const, 'htu' as const, 'iat' as const, 'jti' as const, 'ath' as const) }),
  fc.record({ extra: fc.string({ maxLength: 8 }).filter((name) => !['htm', 'htu', 'iat', 'jti', 'ath'].includes(name)), value: oddValue }),
  fc.record({ huge: fc.constantFrom(2000, 9000, 10_300, 13_000, 20_000) }),
  fc.record({ replace: oddValue }),
  fc.record({ notJson: fc.constantFrom('{', 'not json', '{"htm":"POST",}', '\u0000', '[1,2', 'nul') }),
);

export const proofPlan: fc.Arbitrary<ProofPlan> = fc.record({
  signer: fc.oneof({ weight: 9, arbitrary: fc.constant('bound' as const) }, { weight: 1, arbitrary: fc.constant('stranger' as const) }),
  header: fc.oneof({ weight: 5, arbitrary: fc.constant<ProofHeaderChange[]>([]) }, { weight: 2, arbitrary: fc.array(proofHeaderChange, { minLength: 1, maxLength: 2 }) }),
  claims: fc.oneof({ weight: 5, arbitrary: fc.constant<ProofClaimChange[]>([]) }, { weight: 3, arbitrary: fc.array(proofClaimChange, { minLength: 1, maxLength: 2 }) }),
  jws: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: jwsMutation }),
});

export interface ProofMaterials {
  now: number;
  path: string;
  /** The bearer credential sent with the request, which ath must hash; undefined when none is. */
  bearer: string | undefined;
  bound: DeviceIdentity;
  stranger: DeviceIdentity;
  expired: DeviceIdentity;
  /** A certificate whose public key cannot be decoded (its SPKI algorithm OID corrupted). */
  badSpkiCertificate: Buffer;
  /** Another proof, for signature swaps. */
  otherProof: string;
  /** Whether the service compares the proof's certificate with a token's cnf. */
  bindingChecked: boolean;
  nextJti: () => string;
}

export interface ProofBuilt {
  proof: string;
  /** Valid on its own (signature, header, claims, for this request). */
  intrinsic: boolean;
  /** Also signed by the key the request's token is bound to (trivially, where none is). */
  valid: boolean;
}

function x5cFor(variant: X5cVariant, materials: ProofMaterials, identity: DeviceIdentity): unknown {
  const own = certificateBase64(identity);
  switch (variant) {
    case 'empty':
      return [];
    case 'two':
      return [own, own];
    case 'number':
      return [42];
    case 'stranger':
      return [certificateBase64(identity === materials.stranger ? materials.bound : materials.stranger)];
    case 'base64url':
      return [identity.certificateDer.toString('base64url')];
    case 'pem':
      return [`-----BEGIN CERTIFICATE-----\n${own}\n-----END CERTIFICATE-----`];
    case 'truncated':
      return [identity.certificateDer.subarray(0, identity.certificateDer.length - 20).toString('base64')];
    case 'garbage':
      return ['bm90IGEgY2VydGlmaWNhdGU='];
    case 'huge':
      return [Buffer.alloc(12_000, 0x30).toString('base64')];
    case 'expired':
      return [certificateBase64(materials.expired)];
    case 'bad-spki':
      return [materials.badSpkiCertificate.toString('base64')];
    case 'not-array':
      return own;
    case 'newlines':
      return [own.replace(/(.{64})/g, '$1\n')];
  }
}

function pathOf(url: unknown): string | undefined {
  if (typeof url !== 'string') return undefined;
  try {
    return new URL(url).pathname;
  } catch {
    return undefined;
  }
}

/** docs/protocol.md section 3, read independently of shared/proof: could this header be accepted? */
function proofHeaderAcceptable(header: unknown, identity: DeviceIdentity): boolean {
  if (!isObject(header)) return false;
  if (header.typ !== proofTyp) return false;
  if (typeof header.alg !== 'string' || !proofAlgorithmsFor(identity).includes(header.alg)) return false;
  const x5c = header.x5c;
  if (!Array.isArray(x5c) || x5c.length !== 1 || typeof x5c[0] !== 'string') return false;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(x5c[0]) || !Buffer.from(x5c[0], 'base64').equals(identity.certificateDer)) return false;
  // RFC 7515 4.1.11: only extensions the verifier understands may be critical. jose knows b64,
  // and b64: true is the default, so a (even repeated) critical b64 changes nothing.
  if ('crit' in header && !(Array.isArray(header.crit) && header.crit.length > 0 && header.crit.every((name) => name === 'b64') && header.b64 === true)) return false;
  return true;
}

function proofClaimsAcceptable(claims: unknown, materials: ProofMaterials): boolean {
  if (!isObject(claims)) return false;
  const { htm, htu, iat, jti, ath } = claims;
  if (htm !== 'POST') return false;
  if (pathOf(htu) !== materials.path) return false;
  if (typeof iat !== 'number' || !Number.isInteger(iat) || Math.abs(iat - materials.now) > 300) return false;
  if (typeof jti !== 'string' || jti.length < 16 || jti.length > 256) return false;
  if (ath !== undefined && typeof ath !== 'string') return false;
  if (materials.bearer !== undefined && ath !== sha256url(materials.bearer)) return false;
  return true;
}

function changedHeader(header: unknown, change: ProofHeaderChange, materials: ProofMaterials, identity: DeviceIdentity): unknown {
  if ('replace' in change) return change.replace;
  const object: Record<string, unknown> = isObject(header) ? { ...header } : {};
  if ('drop' in change) delete object[change.drop];
  else if (change.set === 'x5c') object.x5c = x5cFor(change.x5c, materials, identity);
  else if (change.set === 'extra') setMember(object, change.name, change.value);
  else if (change.set === 'crit') {
    object.crit = change.value;
    if (change.b64 !== undefined) object.b64 = change.b64;
  } else object[change.set] = change.value;
  return object;
}

function changedClaims(claims: unknown, change: Exclude<ProofClaimChange, { notJson: string }>, materials: ProofMaterials): unknown {
  if ('replace' in change) return change.replace;
  const object: Record<string, unknown> = isObject(claims) ? { ...claims } : {};
  if ('drop' in change) delete object[change.drop];
  else if ('extra' in change) setMember(object, change.extra, change.value);
  else if ('huge' in change) object.pad = 'p'.repeat(change.huge);
  else if (change.set === 'htm') object.htm = change.value;
  else if (change.set === 'htu') {
    const path = materials.path.slice(1);
    object.htu = change.value === 'UPPER' ? `http://localhost:7071/${path.toUpperCase()}` : typeof change.value === 'string' ? change.value.replace('PATH', path) : change.value;
  } else if (change.set === 'iat') object.iat = materials.now + change.offset;
  else if (change.set === 'iat-value') object.iat = change.value;
  else if (change.set === 'jti') {
    // The unique part first, so a fixed length never repeats a jti (that would test replay, not length).
    const filler = change.unit === 'emoji' ? '\u{1F600}' : 'j';
    object.jti = `${materials.nextJti()}${filler.repeat(change.length)}`.slice(0, change.length);
  } else if (change.set === 'jti-value') object.jti = change.value;
  else {
    const bearer = materials.bearer ?? 'no-bearer';
    const ath: Record<typeof change.ath, unknown> = {
      missing: undefined,
      other: sha256url(`${bearer}x`),
      number: 42,
      'whole-header': sha256url(`Bearer ${bearer}`),
      hex: Buffer.from(sha256url(bearer), 'base64url').toString('hex'),
      padded: `${sha256url(bearer)}=`,
    };
    if (ath[change.ath] === undefined) delete object.ath;
    else object.ath = ath[change.ath];
  }
  return object;
}

export function materializeProof(plan: ProofPlan, materials: ProofMaterials): ProofBuilt {
  const identity = plan.signer === 'stranger' ? materials.stranger : materials.bound;
  const parts = proofParts(identity, { path: materials.path, iat: materials.now, jti: materials.nextJti(), bearer: materials.bearer });
  let header: unknown = parts.header;
  for (const change of plan.header) header = changedHeader(header, change, materials, identity);
  let claims: unknown = parts.claims;
  let rawPayload: string | undefined;
  for (const change of plan.claims) {
    if ('notJson' in change) rawPayload = change.notJson;
    else claims = changedClaims(claims, change, materials);
  }
  const payloadSegment = rawPayload === undefined ? segment(claims) : b64url(rawPayload);
  const signed = signProofParts(identity, header, payloadSegment);
  const proof = plan.jws ? mutateJws(signed, plan.jws, materials.otherProof) : signed;
  const intrinsic =
    rawPayload === undefined &&
    proofHeaderAcceptable(header, identity) &&
    proofClaimsAcceptable(claims, materials) &&
    sameJws(signed, proof) &&
    proof.length <= 14_000;
  return { proof, intrinsic, valid: intrinsic && (plan.signer === 'bound' || !materials.bindingChecked) };
}

// ---------------------------------------------------------------------------------------
// Bodies, content types, other headers

export const contentTypePlan: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'Application/JSON', 'application/problem+json', 'application/vnd.cmg+json;v=1') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      undefined,
      'text/plain',
      'text/json',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/jsonp',
      'application/json5',
      'json',
      'application/octet-stream',
      '*/*',
      'application/json-seq',
    ),
  },
  { weight: 1, arbitrary: headerText(60) },
);

/** docs/protocol.md's "Content-Type: application/json", counting +json types (RFC 6839) as JSON. */
export function contentTypeAcceptable(value: string | undefined): boolean {
  return value !== undefined && /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(headerValueSeen(value));
}

export type BodyPlan =
  | { kind: 'proof'; layout: 'compact' | 'pretty' | 'bom' | 'duplicate' }
  | { kind: 'described'; device: DevicePlanValue }
  | { kind: 'padded'; total: number }
  | { kind: 'proof-and'; key: string; value: unknown }
  | { kind: 'proof-as'; value: unknown }
  | { kind: 'json'; value: unknown }
  | { kind: 'bytes'; bytes: number[] }
  | { kind: 'text'; text: string }
  | { kind: 'nested'; depth: number; shape: 'arrays' | 'objects' | 'in-proof' }
  | { kind: 'oversize'; size: number }
  | { kind: 'empty' }
  | { kind: 'utf16' }
  | { kind: 'cut'; keep: number };

/**
 * The optional `device` description of registration and renewal (docs/protocol.md section 8):
 * valid ones, and ones that break exactly one rule.
 */
export type DevicePlanValue = { valid: boolean; value: unknown };

const printable = fc.string({ minLength: 1, maxLength: 20 }).filter((text) => text.trim() !== '' && !/\p{Cc}/u.test(text));
const validDevice = fc
  .record(
    { name: printable, os: printable, clientVersion: fc.stringMatching(/^[0-9A-Za-z.+-]{1,32}$/) },
    { requiredKeys: [] },
  )
  .map((value): DevicePlanValue => ({ valid: true, value }));
const invalidDevice = fc
  .oneof(
    fc.constant<unknown>(null),
    fc.constant<unknown>('laptop'),
    fc.constant<unknown>([]),
    fc.constant<unknown>({ name: '' }),
    fc.constant<unknown>({ name: 'x'.repeat(65) }),
    fc.constant<unknown>({ name: 'a\u0000b' }),
    fc.constant<unknown>({ os: 'o'.repeat(129) }),
    fc.constant<unknown>({ clientVersion: '1 0' }),
    fc.constant<unknown>({ name: 7 }),
    fc.record({ name: printable, serial: fc.string() }),
  )
  .map((value): DevicePlanValue => ({ valid: false, value }));

export const bodyPlan: fc.Arbitrary<BodyPlan> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('described' as const), device: fc.oneof(validDevice, invalidDevice) }) },
  {
    weight: 24,
    arbitrary: fc.record({ kind: fc.constant('proof' as const), layout: fc.constantFrom('compact' as const, 'compact' as const, 'pretty' as const, 'bom' as const, 'duplicate' as const) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('padded' as const), total: fc.integer({ min: 16_370, max: 16_400 }) }) },
  {
    weight: 1,
    // `device` is a field of its own (the `described` plan), and a valid one would make the body acceptable.
    arbitrary: fc.record({ kind: fc.constant('proof-and' as const), key: fc.string({ maxLength: 8 }).filter((key) => key !== 'proof' && key !== 'device'), value: oddValue }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('proof-as' as const), value: oddValue }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('json' as const), value: json }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bytes' as const), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('text' as const), text: fc.string({ unit: 'binary', maxLength: 40 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('nested' as const), depth: fc.constantFrom(100, 2000, 5000, 8000), shape: fc.constantFrom('arrays' as const, 'objects' as const, 'in-proof' as const) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('oversize' as const), size: fc.constantFrom(16_385, 20_000, 1_000_000) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'empty' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'utf16' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cut' as const), keep: fraction }) },
);

export interface BodyBuilt {
  bytes: Uint8Array | undefined;
  /** The body is `{"proof": <the built proof>}` in some acceptable spelling, within 16 KiB. */
  carriesProof: boolean;
  /** The body also carries `device`: whether that description keeps every rule. */
  device?: 'valid' | 'invalid';
}

export function materializeBody(plan: BodyPlan, proof: string): BodyBuilt {
  const utf8 = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));
  const compact = JSON.stringify({ proof });
  switch (plan.kind) {
    case 'proof': {
      const text =
        plan.layout === 'pretty'
          ? JSON.stringify({ proof }, null, 2)
          : plan.layout === 'bom'
            ? `\ufeff${compact}`
            : plan.layout === 'duplicate'
              ? `{"proof":"a decoy","proof":${JSON.stringify(proof)}}`
              : compact;
      const bytes = utf8(text);
      return { bytes, carriesProof: bytes.byteLength <= 16_384 };
    }
    case 'described': {
      const bytes = utf8(JSON.stringify({ proof, device: plan.device.value }));
      return { bytes, carriesProof: bytes.byteLength <= 16_384, device: plan.device.valid ? 'valid' : 'invalid' };
    }
    case 'padded': {
      const bytes = utf8(compact.padEnd(plan.total, ' '));
      return { bytes, carriesProof: bytes.byteLength <= 16_384 };
    }
    case 'proof-and':
      return { bytes: utf8(`{"proof":${JSON.stringify(proof)},${JSON.stringify(plan.key)}:${JSON.stringify(plan.value) ?? 'null'}}`), carriesProof: false };
    case 'proof-as':
      return { bytes: utf8(JSON.stringify({ proof: plan.value })), carriesProof: false };
    case 'json':
      return { bytes: utf8(JSON.stringify(plan.value) ?? 'null'), carriesProof: false };
    case 'bytes':
      return { bytes: new Uint8Array(plan.bytes), carriesProof: false };
    case 'text':
      return { bytes: utf8(plan.text), carriesProof: false };
    case 'nested': {
      const text =
        plan.shape === 'arrays'
          ? `${'['.repeat(plan.depth)}${']'.repeat(plan.depth)}`
          : plan.shape === 'objects'
            ? `${'{"a":'.repeat(plan.depth)}1${'}'.repeat(plan.depth)}`
            : `{"proof":${'['.repeat(plan.depth)}${']'.repeat(plan.depth)}}`;
      return { bytes: utf8(text), carriesProof: false };
    }
    case 'oversize':
      return { bytes: utf8(`{"proof":${JSON.stringify(proof.padEnd(plan.size, 'A'))}}`), carriesProof: false };
    case 'empty':
      return { bytes: undefined, carriesProof: false };
    case 'utf16':
      return { bytes: new Uint8Array(Buffer.from(compact, 'utf16le')), carriesProof: false };
    case 'cut':
      return { bytes: utf8(compact.slice(0, Math.floor(plan.keep * compact.length))), carriesProof: false };
  }
}

/** A declared Content-Length that may lie; only one above 16 KiB is a reason to refuse. */
export const contentLengthPlan: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 12, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constantFrom('0', '5', '16384', '16385', '99999999', '-1', 'abc', '1e9', '0x10', ' 12') },
);

export function contentLengthAcceptable(value: string | undefined): boolean {
  return !(Number(value ?? '0') > 16_384);
}

/** Headers nobody should trust or trip over. */
export const junkHeaders: fc.Arbitrary<Array<[string, string]>> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Array<[string, string]>>([]) },
  {
    weight: 1,
    arbitrary: fc.array(
      fc.tuple<[string, string]>(
        fc.constantFrom(
          'x-ms-client-principal',
          'x-ms-client-principal-id',
          'x-ms-client-principal-name',
          'forwarded',
          'x-real-ip',
          'origin',
          'cookie',
          'accept',
          'x-http-method-override',
          'x-original-url',
          'x-fuzz',
        ),
        headerText(80),
      ),
      { maxLength: 3 },
    ),
  },
);

/**
 * Host header values for the local host's request-line fuzz (issue 14): valid names,
 * addresses and ports mixed with what broke it — brackets, user info, empty values, ports
 * past 65535 — from characters an HTTP parser accepts in a header value.
 */
export const hostHeaderPlan: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('localhost', '127.0.0.1', '[::1]', 'example.test', '', '[', ']', '[::1', '::1', 'u@x', 'x:', ':80', 'x:99999', 'x:65536', 'x:-1', 'x:0', '[::1]:65535', '[zz]', 'a b', 'x%zz', 'x%41', '%'),
  fc.tuple(
    fc.string({ unit: fc.constantFrom(...'abcxyz019.-[]@:%_~!$&*+,;= '.split('')), maxLength: 24 }),
    fc.option(fc.nat({ max: 200_000 }), { nil: undefined }),
  ).map(([name, port]) => (port === undefined ? name : `${name}:${port}`)),
);

/**
 * Request paths with percent-escapes of every kind (valid UTF-8, lone bytes, `%2F`, a bare
 * `%`, overlong and surrogate encodings) under /api and /admin/functions, for the same fuzz.
 */
export const escapedPathPlan: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom('/api/', '/api/devices/', '/api/bulk-tokens/', '/admin/functions/', '/', '/API/', '/api/register/'),
    fc.array(
      fc.oneof(
        fc.constantFrom('%', '%2F', '%2f', '%E0', '%C0%AF', '%ED%A0%80', '%FF', '%00', '%25', '%zz', '%e2%82%ac', '..', '.', '', 'internal', 'approve', 'block', 'purgeExpired'),
        fc.integer({ min: 0, max: 255 }).map((byte) => `%${byte.toString(16).padStart(2, '0')}`),
        fc.string({ unit: fc.constantFrom(...'abcXYZ019-._~!$&()*+,;=:@'.split('')), maxLength: 8 }),
      ),
      { maxLength: 6 },
    ),
    fc.option(fc.constantFrom('?', '?a=%', '?status=%E0', '?x=1&x=2', '?%zz=1'), { nil: undefined }),
  )
  .map(([prefix, parts, query]) => `${prefix}${parts.join('/')}${query ?? ''}`);
