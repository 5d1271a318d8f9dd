import { auditActions, auditOutcomes } from '../audit/auditEntry.js';
import { errorCodes } from '../errors.js';

/**
 * The OpenAPI 3.1 description of the HTTP API, served at /api/openapi.json. A test compares
 * its paths and methods with the functions actually registered, so it cannot drift.
 */

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: ref('Problem') } } });
const ok = (description: string, schema: string) => ({ description, content: { 'application/json': { schema: ref(schema) } } });

const proofBody = {
  required: true,
  content: { 'application/json': { schema: ref('ProofRequest') } },
};

/** Registration and renewal: the proof and, optionally, what the device says it is. */
const describedProofBody = {
  required: true,
  content: { 'application/json': { schema: ref('DescribedProofRequest') } },
};

const rateLimited = problem(
  'The device has been issued TOKEN_ISSUE_BURST tokens (3 by default) in the last TOKEN_ISSUE_WINDOW_MINUTES (60): rate_limited, ' +
    'with Retry-After in seconds until the next is allowed; no token is signed and nothing is stored',
);

const deviceErrors = {
  '400': problem('Malformed body, proof or certificate (invalid_request, invalid_proof, invalid_certificate)'),
  '401': problem('Bad, expired or wrong-type token; bad or replayed proof; key not matching cnf'),
  '411': problem('Body sent chunked, without Content-Length: the Functions host never delivers it (length_required)'),
  '413': problem('Body over 16 KiB (payload_too_large)'),
  '415': problem('Body not JSON (unsupported_media_type)'),
  '503': problem('Storage or Key Vault unavailable; retry after Retry-After seconds (unavailable); or invalid settings (misconfigured)'),
};

const adminErrors = {
  '400': problem('Malformed request (invalid_request)'),
  '401': problem('No or bad admin credential (recorded in the audit trail as admin.refused)'),
  '403': problem('The credential lacks the admin role (forbidden; recorded as admin.refused)'),
  '503': problem('Storage or Key Vault unavailable, or the audit entry could not be written (unavailable); or invalid settings (misconfigured)'),
};

const guidParameter = (description: string) => ({
  name: 'id',
  in: 'path',
  required: true,
  description,
  schema: { type: 'string', format: 'uuid' },
});

const isoTime = { type: 'string', format: 'date-time' };

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'cmg-token-auth',
    version: '1.0.0',
    description:
      'Token-based device authentication for a cloud management gateway. Device requests carry a proof of possession ' +
      '(a device-proof+jwt JWS signed by the key of the self-signed certificate in its x5c header); see docs/protocol.md in the repository. ' +
      'A path below /api that is not listed here answers 404 problem+json (not_found); a listed path with a method not listed ' +
      'for it answers 405 problem+json (method_not_allowed) with an Allow header — in Azure and locally alike. A body must be ' +
      'sent with Content-Length (411 length_required otherwise). A repeated query parameter arrives as one comma-joined value ' +
      '(the Functions host joins them), so ?status=active&status=revoked is 400 invalid_request. Invalid settings: every ' +
      'operation answers 503 misconfigured, and GET /health names the settings. ' +
      'A device may describe itself (device: {name, os, clientVersion}) at registration and renewal; those values are self-asserted ' +
      'by the device, never checked, and the admin views show them as its own claims.',
  },
  servers: [{ url: '/api' }],
  components: {
    securitySchemes: {
      bulkToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (typ bulk-registration+jwt)' },
      deviceToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (typ device+jwt)' },
      admin: { type: 'http', scheme: 'bearer', description: 'ADMIN_KEY locally; a Microsoft Entra ID access token with the admin app role in Azure' },
    },
    schemas: {
      Problem: {
        type: 'object',
        required: ['type', 'title', 'status', 'detail', 'code'],
        properties: {
          type: { type: 'string' },
          title: { type: 'string' },
          status: { type: 'integer' },
          detail: { type: 'string' },
          code: { type: 'string', enum: Object.keys(errorCodes) },
        },
      },
      ProofRequest: {
        type: 'object',
        required: ['proof'],
        additionalProperties: false,
        properties: { proof: { type: 'string', description: 'Compact JWS, typ device-proof+jwt, with x5c, htm, htu, iat, jti and ath' } },
      },
      DeviceDescription: {
        type: 'object',
        additionalProperties: false,
        description:
          'What the device says it is. Self-asserted: nothing checks it, and administrators see it as the device\'s own claim. ' +
          'Any other key, a wrong type or a broken rule is 400 invalid_request naming the field; nothing is stored and no bulk-token use is taken.',
        properties: {
          name: {
            type: 'string',
            minLength: 1,
            maxLength: 64,
            description:
              '1 to 64 characters after trimming, no control characters. Left out at registration: the certificate\'s subject CN, when it is 1 to 64 printable characters',
          },
          os: { type: 'string', minLength: 1, maxLength: 128, description: '1 to 128 characters, no control characters' },
          clientVersion: { type: 'string', pattern: '^[0-9A-Za-z.+-]{1,32}$' },
        },
      },
      DescribedProofRequest: {
        type: 'object',
        required: ['proof'],
        additionalProperties: false,
        properties: {
          proof: { type: 'string', description: 'Compact JWS, typ device-proof+jwt, with x5c, htm, htu, iat, jti and ath' },
          device: { ...ref('DeviceDescription'), description: 'Optional; at a renewal it replaces what was stored, left out it keeps it' },
        },
      },
      DeviceToken: {
        type: 'object',
        required: ['deviceId', 'token', 'expiresAt', 'renewAfter'],
        properties: { deviceId: { type: 'string', format: 'uuid' }, token: { type: 'string' }, expiresAt: isoTime, renewAfter: isoTime },
      },
      Pending: {
        type: 'object',
        required: ['deviceId', 'status'],
        properties: { deviceId: { type: 'string', format: 'uuid' }, status: { const: 'pending' } },
      },
      Authenticated: {
        type: 'object',
        required: ['deviceId', 'expiresAt', 'renewAfter', 'registration'],
        properties: {
          deviceId: { type: 'string', format: 'uuid' },
          expiresAt: isoTime,
          renewAfter: isoTime,
          registration: { enum: ['internal', 'bulk'] },
        },
      },
      NewBulkToken: {
        type: 'object',
        additionalProperties: false,
        properties: {
          lifetimeMinutes: { type: 'integer', minimum: 1, maximum: 10080, default: 4320 },
          description: { type: 'string', maxLength: 256 },
          maxUses: { type: 'integer', minimum: 1, maximum: 1000000 },
        },
      },
      IssuedBulkToken: {
        type: 'object',
        required: ['id', 'token', 'issuedAt', 'expiresAt', 'lifetimeMinutes'],
        properties: { id: { type: 'string', format: 'uuid' }, token: { type: 'string' }, issuedAt: isoTime, expiresAt: isoTime, lifetimeMinutes: { type: 'integer' } },
      },
      BulkTokenList: {
        type: 'object',
        required: ['items'],
        properties: {
          items: {
            type: 'array',
            items: {
              type: 'object',
              required: ['id', 'issuedAt', 'expiresAt', 'lifetimeMinutes', 'status', 'uses', 'maxUses', 'description'],
              properties: {
                id: { type: 'string', format: 'uuid' },
                issuedAt: isoTime,
                expiresAt: isoTime,
                lifetimeMinutes: { type: 'integer' },
                status: { enum: ['active', 'expired', 'blocked', 'used-up'] },
                uses: { type: 'integer' },
                maxUses: { type: ['integer', 'null'] },
                description: { type: ['string', 'null'] },
              },
            },
          },
        },
      },
      BulkTokenStatus: {
        type: 'object',
        required: ['id', 'status'],
        properties: { id: { type: 'string', format: 'uuid' }, status: { enum: ['active', 'expired', 'blocked', 'used-up'] } },
      },
      Device: {
        type: 'object',
        required: ['deviceId', 'status', 'registration', 'thumbprint', 'registeredAt', 'expiresAt', 'name', 'os', 'clientVersion', 'lastSeenAt', 'thumbprintSha1'],
        description: 'name, os and clientVersion are self-asserted by the device and shown as its own claims',
        properties: {
          deviceId: { type: 'string', format: 'uuid' },
          status: { enum: ['pending', 'active', 'revoked'] },
          registration: { enum: ['internal', 'bulk'] },
          bulkTokenId: { type: 'string', format: 'uuid', description: 'The bulk token the device first registered with (bulk only)' },
          thumbprint: { type: 'string', description: 'base64url SHA-256 of the certificate DER (x5t#S256)' },
          registeredAt: isoTime,
          expiresAt: isoTime,
          name: { type: ['string', 'null'], description: "Self-asserted by the device (or its certificate's CN): the device's own claim, not checked" },
          os: { type: ['string', 'null'], description: 'Self-asserted by the device, not checked' },
          clientVersion: { type: ['string', 'null'], description: 'Self-asserted by the device, not checked' },
          lastSeenAt: {
            ...isoTime,
            description: 'The latest register, renew or authenticate, accurate to LAST_SEEN_GRANULARITY_MINUTES (60 by default)',
          },
          thumbprintSha1: {
            type: ['string', 'null'],
            pattern: '^[0-9A-F]{40}$',
            description: 'SHA-1 of the certificate DER in upper-case hex, the thumbprint Windows shows; null only for a pairing stored before it was recorded and not renewed since',
          },
        },
      },
      DeviceList: {
        type: 'object',
        required: ['items'],
        properties: {
          items: { type: 'array', items: ref('Device') },
          continuation: { type: 'string', description: 'Pass back as ?continuation= for the next page' },
        },
      },
      AuditEntry: {
        type: 'object',
        required: ['id', 'schemaVersion', 'time', 'action', 'outcome', 'actor'],
        properties: {
          id: { type: 'string', description: 'Unique and stable' },
          schemaVersion: { const: 1 },
          time: { ...isoTime, description: 'UTC, milliseconds; for an admin action, when it started' },
          action: { enum: [...auditActions] },
          outcome: {
            enum: [...auditOutcomes],
            description: 'attempted: the action started but its outcome could not be recorded, so it may or may not have taken effect',
          },
          status: { type: 'integer', description: 'The HTTP status the caller got' },
          code: { type: 'string', description: 'The problem code, when refused or failed' },
          actor: {
            type: 'object',
            required: ['kind', 'name'],
            properties: {
              kind: { enum: ['entra', 'admin-key', 'device', 'anonymous'] },
              id: { type: 'string', description: 'Entra object id (or app id for app-only tokens); entra only' },
              name: { type: 'string', description: 'Display name or UPN (entra), "admin key", the device id, or "anonymous"' },
            },
          },
          callerAddress: { type: 'string' },
          target: {
            type: 'object',
            required: ['kind', 'id'],
            properties: { kind: { enum: ['bulk-token', 'device'] }, id: { type: 'string' } },
          },
          details: {
            type: 'object',
            properties: {
              registration: { enum: ['bulk', 'internal'] },
              bulkTokenId: { type: 'string', format: 'uuid' },
              lifetimeMinutes: { type: 'integer' },
              maxUses: { type: 'integer' },
              route: { type: 'string', description: 'admin.refused: "METHOD /api/path"' },
              suppressed: { type: 'integer', description: 'admin.refused: refusals this instance skipped before this one (rate cap)' },
            },
          },
          invocationId: { type: 'string' },
        },
      },
      AuditPage: {
        type: 'object',
        required: ['items'],
        properties: {
          items: { type: 'array', items: ref('AuditEntry'), description: 'Newest first; may be fewer than limit, even none, while continuation is set' },
          continuation: { type: 'string', description: 'Absent on the last page; pass back with the same query for the next page' },
        },
      },
      DeviceStatus: {
        type: 'object',
        required: ['deviceId', 'status'],
        properties: { deviceId: { type: 'string', format: 'uuid' }, status: { enum: ['active', 'revoked'] } },
      },
      Jwks: { type: 'object', required: ['keys'], properties: { keys: { type: 'array', items: { type: 'object' } } } },
    },
  },
  paths: {
    '/register/internal': {
      post: {
        operationId: 'registerInternal',
        summary: 'Register from an internal network (INTERNAL_NETWORKS), under the approval policy',
        requestBody: describedProofBody,
        responses: {
          '201': ok('Registered: the device token', 'DeviceToken'),
          '202': ok('Awaiting approval; repeat the same call later', 'Pending'),
          ...deviceErrors,
          '403': problem('Caller outside INTERNAL_NETWORKS (network_forbidden) or device revoked (device_revoked)'),
          '429': rateLimited,
        },
      },
    },
    '/register': {
      post: {
        operationId: 'registerDevice',
        summary: 'Register over the internet with a bulk registration token',
        security: [{ bulkToken: [] }],
        requestBody: describedProofBody,
        responses: {
          '201': ok('Registered: the device token', 'DeviceToken'),
          ...deviceErrors,
          '403': problem('Device revoked (device_revoked)'),
          '429': rateLimited,
        },
      },
    },
    '/renew': {
      post: {
        operationId: 'renewDeviceToken',
        summary: 'Renew a device token (same device, fresh 90 days)',
        security: [{ deviceToken: [] }],
        requestBody: describedProofBody,
        responses: {
          '200': ok('The new device token', 'DeviceToken'),
          ...deviceErrors,
          '403': problem('Device revoked (device_revoked)'),
          '429': rateLimited,
        },
      },
    },
    '/authenticate': {
      post: {
        operationId: 'authenticateDevice',
        summary: "The gateway's check of a device token and proof, including revocation",
        security: [{ deviceToken: [] }],
        requestBody: proofBody,
        responses: { '200': ok('The device is authenticated', 'Authenticated'), ...deviceErrors, '403': problem('Device revoked (device_revoked)') },
      },
    },
    '/.well-known/jwks.json': {
      get: {
        operationId: 'jwks',
        summary: 'Public keys of every signing key whose tokens may still be alive',
        responses: { '200': ok('JWKS (cacheable for 300 s)', 'Jwks'), '503': problem('Key Vault unavailable') },
      },
    },
    '/health': {
      get: {
        operationId: 'health',
        summary: 'ok once storage and signing answer',
        responses: { '200': { description: 'Healthy' }, '503': problem('Storage or Key Vault unavailable') },
      },
    },
    '/openapi.json': {
      get: { operationId: 'openApi', summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1 document' } } },
    },
    '/bulk-tokens': {
      post: {
        operationId: 'createBulkToken',
        summary: 'Create a bulk registration token (only its id and metadata are stored)',
        security: [{ admin: [] }],
        requestBody: { required: false, content: { 'application/json': { schema: ref('NewBulkToken') } } },
        responses: {
          '201': ok('The token; shown once', 'IssuedBulkToken'),
          ...adminErrors,
          '411': problem('Body sent chunked, without Content-Length (length_required)'),
          '413': problem('Body over 16 KiB'),
          '415': problem('Body not JSON'),
        },
      },
      get: {
        operationId: 'listBulkTokens',
        summary: 'List bulk registration tokens (never the tokens themselves)',
        security: [{ admin: [] }],
        responses: { '200': ok('Tokens, newest first', 'BulkTokenList'), ...adminErrors },
      },
    },
    '/bulk-tokens/{id}/block': {
      post: {
        operationId: 'blockBulkToken',
        summary: 'Block a bulk token: devices can no longer register with it',
        security: [{ admin: [] }],
        parameters: [guidParameter('The bulk token id')],
        responses: { '200': ok('Blocked', 'BulkTokenStatus'), ...adminErrors, '404': problem('No such bulk token (not_found)') },
      },
    },
    '/bulk-tokens/{id}/unblock': {
      post: {
        operationId: 'unblockBulkToken',
        summary: 'Undo a block',
        security: [{ admin: [] }],
        parameters: [guidParameter('The bulk token id')],
        responses: { '200': ok('Active or expired again', 'BulkTokenStatus'), ...adminErrors, '404': problem('No such bulk token (not_found)') },
      },
    },
    '/devices': {
      get: {
        operationId: 'listDevices',
        summary: 'List devices, newest registration first, optionally by status and name prefix, a page at a time',
        description:
          'A page may hold fewer than limit items and still carry a continuation (the list checks every index row against the device it names). ' +
          'name, os and clientVersion are self-asserted by each device.',
        security: [{ admin: [] }],
        parameters: [
          { name: 'status', in: 'query', schema: { enum: ['pending', 'active', 'revoked'] } },
          {
            name: 'name',
            in: 'query',
            description: 'A case-insensitive prefix of the device name, 1 to 64 characters',
            schema: { type: 'string', minLength: 1, maxLength: 64 },
          },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
          { name: 'continuation', in: 'query', schema: { type: 'string' } },
        ],
        responses: { '200': ok('A page of devices', 'DeviceList'), ...adminErrors },
      },
    },
    '/devices/{id}': {
      get: {
        operationId: 'getDevice',
        summary: 'One device, by its id, its certificate thumbprint, or the SHA-1 thumbprint Windows shows',
        security: [{ admin: [] }],
        parameters: [
          {
            name: 'id',
            in: 'path',
            required: true,
            description:
              'The device id (GUID), the certificate thumbprint (base64url SHA-256, 43 characters), or the SHA-1 thumbprint Windows shows (40 hex digits, any case)',
            schema: { type: 'string' },
          },
        ],
        responses: { '200': ok('The device', 'Device'), ...adminErrors, '404': problem('No such device (not_found)') },
      },
    },
    '/audit': {
      get: {
        operationId: 'listAudit',
        summary: 'The audit trail, newest first: admin actions, refused admin requests, device registrations',
        security: [{ admin: [] }],
        parameters: [
          { name: 'from', in: 'query', description: 'Inclusive; default: 7 days before to', schema: isoTime },
          { name: 'to', in: 'query', description: 'Exclusive; default: now. At most 366 days after from', schema: isoTime },
          { name: 'action', in: 'query', schema: { enum: [...auditActions] } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
          { name: 'continuation', in: 'query', description: 'From the previous page of the same query', schema: { type: 'string' } },
        ],
        responses: { '200': ok('A page of entries', 'AuditPage'), ...adminErrors },
      },
    },
    '/devices/{id}/approve': {
      post: {
        operationId: 'approveDevice',
        summary: 'Approve a pending internal registration',
        security: [{ admin: [] }],
        parameters: [guidParameter('The device id')],
        responses: {
          '200': ok('Approved', 'DeviceStatus'),
          ...adminErrors,
          '404': problem('No such device (not_found)'),
          '409': problem('The device is revoked (conflict)'),
        },
      },
    },
    '/devices/{id}/revoke': {
      post: {
        operationId: 'revokeDevice',
        summary: 'Revoke a device: renew and authenticate fail from then on',
        security: [{ admin: [] }],
        parameters: [guidParameter('The device id')],
        responses: { '200': ok('Revoked', 'DeviceStatus'), ...adminErrors, '404': problem('No such device (not_found)') },
      },
    },
  },
} as const;
