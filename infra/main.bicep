// cmg-token-auth in one resource group: a Flex Consumption Function App running as a
// user-assigned identity, Table Storage, a Key Vault signing key, and monitoring. Keyless
// throughout: no account key, connection string with a key, or secret is created or passed.
//
//   CMG_ENVIRONMENT_NAME=<env> az deployment group create -g <rg> -p infra/main.bicepparam
//
// infra/deploy.sh does that and publishes the code. test/infra.bicep.test.ts compiles and lints
// every file with the Bicep CLI (rules in infra/bicepconfig.json) and checks the ARM JSON.

targetScope = 'resourceGroup'

// Parameters

@description('Required. Name of the environment (say "prod" or "test"); it seeds the unique suffix of every resource name.')
@minLength(1)
@maxLength(64)
param environmentName string

@description('Optional. Azure region of every resource; must offer the Flex Consumption plan.')
param location string = resourceGroup().location

@description('Optional. Tags applied to every resource, in addition to env-name.')
param tags object = {}

@description('Optional. Node.js major version of the Functions worker. 22 is what Flex Consumption supports longest (until 2027-04-30) and what .ci/run tests on; 20 reached its end of support on Flex on 2026-04-30.')
@allowed([
  '22'
])
param nodeVersion string = '22'

@description('Optional. Memory of each Function App instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Optional. Upper bound on Function App instances, which caps cost under load.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Optional. Redundancy of the storage account.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
])
param storageSkuName string = 'Standard_LRS'

@description('Optional. Key type of the signing key: RSA (RS256 tokens) or EC P-256 (ES256 tokens).')
@allowed([
  'RSA'
  'EC'
])
param keyType string = 'RSA'

@description('Optional. RSA modulus length in bits; ignored for EC keys.')
@allowed([
  2048
  3072
  4096
])
param rsaKeySize int = 2048

@description('Optional. Token signing algorithm. Empty: follows the key (RSA: RS256, EC: ES256). PS256 needs an RSA key, ES256 an EC key.')
@allowed([
  ''
  'RS256'
  'PS256'
  'ES256'
])
param signingAlg string = ''

@description('Optional. Name of the signing key in the vault.')
@minLength(1)
@maxLength(127)
param keyName string = 'token-signing'

@description('Optional. ISO 8601 duration after which Key Vault rotates the signing key.')
param keyRotationTimeAfterCreate string = 'P180D'

@description('Optional. ISO 8601 expiry stamped on each rotated key version; must exceed the rotation period by at least 90 days (the device-token lifetime).')
param keyExpiryTime string = 'P365D'

@description('Optional. Key Vault purge protection. Recommended on: losing the signing key forces every device to register again. Irreversible once on.')
param enablePurgeProtection bool = true

@description('Optional. Days a deleted vault or key stays recoverable.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 90

@description('Optional. Days Log Analytics keeps data.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

@description('Optional. Comma-separated CIDR ranges whose callers may use internal registration, such as the public egress ranges of the corporate network. Empty: no caller is internal.')
param internalNetworks string = ''

@description('Optional. True when devices reach the app through a private endpoint, where private (10/8, 172.16/12, 192.168/16), unique-local (fc00::/7) and link-local ranges in internalNetworks are the devices\' own addresses. False (the default): such ranges draw a warning at start, since over the internet the app sees them only as a gateway or proxy in front of it.')
param internalNetworksPrivateEndpoint bool = false

@description('Optional. Approval policy for internal registration: auto, or manual (an admin approves each device).')
@allowed([
  'auto'
  'manual'
])
param approvalMode string = 'manual'

@description('Optional. Token issuer (iss). Empty: the function app\'s URL, https://<app>.azurewebsites.net.')
param tokenIssuer string = ''

@description('Optional. Token audience (aud) of bulk and device tokens.')
@minLength(1)
param tokenAudience string = 'cmg-token-auth'

@description('Optional. Entra tenant of the administrators (TENANT_ID): whose admin access tokens are accepted, and the tid claim of bulk tokens. The key vault always trusts the subscription\'s own tenant, which issues the managed identity\'s tokens.')
@minLength(36)
@maxLength(36)
param adminTenantId string = subscription().tenantId

@description('Optional. Grant the app\'s identity the built-in Key Vault Crypto User role on the signing key instead of the custom read-and-sign role. Only for deployers who cannot create role definitions: Crypto User also allows keys/update, so the app could re-enable a key version an operator disabled after a leak, and encrypt, decrypt, wrap, unwrap and back up with the key.')
param useKeyVaultCryptoUserRole bool = false

@description('Optional. Audience of admin access tokens: the Application ID URI (v1 tokens) or client id (v2 tokens) of the admin app registration. Empty: the admin API refuses every call.')
param adminAudience string = ''

@description('Optional. Application (client) id of the app registration the console signs in with (Entra ID, authorization code with PKCE); its single-page-application redirect URI must be https://<app>.azurewebsites.net/api/console/redirect.html. Empty: the console offers no Entra sign-in.')
param consoleClientId string = ''

@description('Optional. Delegated scope the console asks for. Empty: <App ID URI of adminAudience>/user_impersonation.')
param consoleApiScope string = ''

@description('Optional. App role an admin access token must carry.')
@minLength(1)
param adminAppRole string = 'CmgTokenAuth.Admin'

@description('Optional. Seconds between re-reads of the signing key\'s versions from Key Vault.')
@minValue(30)
@maxValue(86400)
param keyRefreshSeconds int = 300

@description('Optional. Six-field NCRONTAB schedule of the purge timer.')
param purgeSchedule string = '0 17 * * * *'

@description('Optional. Seconds one purge run may take.')
@minValue(10)
@maxValue(3600)
param purgeTimeBudgetSeconds int = 240

@description('Optional. Days an expired bulk-token record is kept before purging.')
@minValue(0)
@maxValue(3650)
param bulkTokenRetentionDays int = 30

@description('Optional. Days an expired device pairing is kept before purging.')
@minValue(0)
@maxValue(3650)
param deviceRetentionDays int = 7

@description('Optional. Days a pending approval waits before it is purged.')
@minValue(1)
@maxValue(3650)
param pendingApprovalDays int = 30

@description('Optional. Partitions per hour of the replay cache (docs/capacity.md). Safe to change while devices are active (docs/decisions/0011).')
@minValue(1)
@maxValue(256)
param replayShards int = 16

@description('Optional. Days audit-trail entries are kept before purging (whole UTC days).')
@minValue(1)
@maxValue(3650)
param auditRetentionDays int = 365

@description('Optional. How stale a device\'s lastSeenAt may be: authenticate writes it at most once per this many minutes per device and instance (docs/decisions/0016).')
@minValue(1)
@maxValue(1440)
param lastSeenGranularityMinutes int = 60

@description('Optional. Tokens one device may be issued per window, renewals and registrations together; past it 429 (docs/decisions/0015).')
@minValue(1)
@maxValue(1000)
param tokenIssueBurst int = 3

@description('Optional. The window of tokenIssueBurst, in minutes.')
@minValue(1)
@maxValue(10080)
param tokenIssueWindowMinutes int = 60

// Variables

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var allTags = union(tags, {
  'env-name': environmentName
  application: 'cmg-token-auth'
})

var functionAppName = 'func-${resourceToken}'
// The app's own URL is computed from its name rather than read from the site, which would make
// the site's settings depend on the site itself.
var effectiveTokenIssuer = empty(tokenIssuer) ? 'https://${functionAppName}.azurewebsites.net' : tokenIssuer

// Every app setting of the function app. The service's names are exactly azureAppSettings in
// shared/config.ts (test/infra.bicep.test.ts compares them); the rest are platform settings.
var appSettings = {
  // Host storage through the identity: account name plus identity, never a connection string.
  AzureWebJobsStorage__accountName: storage.outputs.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.outputs.clientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=${identity.outputs.clientId}'

  INTERNAL_NETWORKS: internalNetworks
  // Spelled out: the config accepts true/false, and string(true) would be 'True'.
  INTERNAL_NETWORKS_PRIVATE_ENDPOINT: internalNetworksPrivateEndpoint ? 'true' : 'false'
  APPROVAL_MODE: approvalMode
  // An https URL makes the service use DefaultAzureCredential (the identity) for Table Storage.
  STORAGE_CONNECTION: storage.outputs.tableEndpoint
  KEY_VAULT_URL: keyVault.outputs.uri
  KEY_NAME: keyVault.outputs.keyName
  SIGNING_ALG: signingAlg
  TOKEN_ISSUER: effectiveTokenIssuer
  TOKEN_AUDIENCE: tokenAudience
  TENANT_ID: adminTenantId
  ADMIN_AUDIENCE: adminAudience
  ADMIN_APP_ROLE: adminAppRole
  CONSOLE_CLIENT_ID: consoleClientId
  CONSOLE_API_SCOPE: consoleApiScope
  // ADMIN_KEY is a local-only credential; in Azure only Entra tokens are admin credentials.
  ALLOW_ADMIN_KEY_IN_AZURE: 'false'
  AZURE_CLIENT_ID: identity.outputs.clientId
  KEY_REFRESH_SECONDS: string(keyRefreshSeconds)
  PURGE_SCHEDULE: purgeSchedule
  PURGE_TIME_BUDGET_SECONDS: string(purgeTimeBudgetSeconds)
  BULK_TOKEN_RETENTION_DAYS: string(bulkTokenRetentionDays)
  DEVICE_RETENTION_DAYS: string(deviceRetentionDays)
  PENDING_APPROVAL_DAYS: string(pendingApprovalDays)
  REPLAY_SHARDS: string(replayShards)
  AUDIT_RETENTION_DAYS: string(auditRetentionDays)
  LAST_SEEN_GRANULARITY_MINUTES: string(lastSeenGranularityMinutes)
  TOKEN_ISSUE_BURST: string(tokenIssueBurst)
  TOKEN_ISSUE_WINDOW_MINUTES: string(tokenIssueWindowMinutes)

  // Host settings (read by the Functions host, not by shared/config.ts).
  // The host buffers a request body up to this many bytes before the worker sees it (its default
  // is 100 MB); the service refuses bodies over 16 KiB (maxBodyBytes in shared/http/body.ts), so
  // a little above that keeps the service's own 413 problem for slightly-too-large bodies while
  // the host rejects anything bigger before buffering it.
  FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '20480'
}

// Resources

module identity 'app/identity.bicep' = {
  name: 'identity-${resourceToken}'
  params: {
    name: 'id-${resourceToken}'
    location: location
    tags: allTags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage-${resourceToken}'
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: allTags
    skuName: storageSkuName
    deploymentContainerName: 'app-package'
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault-${resourceToken}'
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: allTags
    enablePurgeProtection: enablePurgeProtection
    softDeleteRetentionInDays: softDeleteRetentionInDays
    keyName: keyName
    keyType: keyType
    rsaKeySize: rsaKeySize
    keyRotationTimeAfterCreate: keyRotationTimeAfterCreate
    keyExpiryTime: keyExpiryTime
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring-${resourceToken}'
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: allTags
    retentionInDays: logRetentionInDays
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac-${resourceToken}'
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    keyName: keyVault.outputs.keyName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    useKeyVaultCryptoUserRole: useKeyVaultCryptoUserRole
  }
}

module functionApp 'app/function.bicep' = {
  name: 'function-${resourceToken}'
  params: {
    name: functionAppName
    planName: 'plan-${resourceToken}'
    location: location
    tags: allTags
    identityId: identity.outputs.id
    blobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    nodeVersion: nodeVersion
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    appSettings: appSettings
  }
  // The host reaches storage with the identity from its first start, so the roles come first.
  dependsOn: [
    rbac
  ]
}

// Outputs

@description('Name of the function app.')
output functionAppName string = functionApp.outputs.name

@description('Base URL of the function app; the API is under /api.')
output functionAppUrl string = 'https://${functionApp.outputs.defaultHostName}'

@description('Versionless identifier of the signing key in Key Vault.')
output signingKeyId string = keyVault.outputs.keyUri

@description('Name of the key vault holding the signing key.')
output keyVaultName string = keyVault.outputs.name

@description('Name of the storage account holding the tables and the deployment packages.')
output storageAccountName string = storage.outputs.name
