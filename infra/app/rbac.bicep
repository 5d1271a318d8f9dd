// Every role the service's identity holds, each on the narrowest scope that works. Names are
// guid(scope, principal, role) so a redeployment finds the same assignment instead of adding one.

// Parameters

@description('Required. Object (principal) id of the user-assigned identity that receives the roles.')
@minLength(36)
@maxLength(36)
param principalId string

@description('Required. Name of the storage account holding the host storage, the deployment container and the tables.')
param storageAccountName string

@description('Required. Name of the key vault holding the signing key.')
param keyVaultName string

@description('Required. Name of the signing key.')
param keyName string

@description('Required. Name of the Application Insights component.')
param applicationInsightsName string

@description('Optional. Grant the built-in Key Vault Crypto User role on the key instead of the custom read-and-sign role (see main.bicep: Crypto User also allows keys/update, encrypt, decrypt, wrap, unwrap, backup).')
param useKeyVaultCryptoUserRole bool = false

// Variables

// What the service does with the signing key: read it and its versions (keys/read covers get
// and list) and sign. Both are data actions of Key Vault's data plane, not ARM actions.
var keySignerDataActions = [
  'Microsoft.KeyVault/vaults/keys/read'
  'Microsoft.KeyVault/vaults/keys/sign/action'
]

// Key Vault Crypto User: the fallback when the deployer cannot create role definitions. Besides
// read and sign it grants keys/update (an operator's disabled version could be re-enabled),
// encrypt, decrypt, wrap, unwrap, verify and backup. Never Crypto Officer (delete, rotate, purge).
var keyVaultCryptoUserRoleId = '12338af0-0e69-4776-bea7-57ae8d297424'

// Storage Table Data Contributor: the service's tables (create on first use, read, write, delete).
var storageTableDataContributorRoleId = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'

// Storage Blob Data Owner: what the Functions host needs for identity-based AzureWebJobsStorage
// (host keys, timer schedule status and singleton leases in blobs) and the Flex Consumption
// platform for reading the deployment package.
var storageBlobDataOwnerRoleId = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'

// No Storage Queue Data Contributor: the host uses queues only for queue and blob triggers and
// Durable Functions; this app has HTTP and timer triggers only.

// Monitoring Metrics Publisher: Entra-authenticated telemetry ingestion into Application Insights.
var monitoringMetricsPublisherRoleId = '3913510d-42f4-4e42-8a64-420c390055eb'

// Resources

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName

  resource signingKey 'keys' existing = {
    name: keyName
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// A custom role with exactly the two data actions, assignable only in this resource group.
// Creating it needs Microsoft.Authorization/roleDefinitions/write on the resource group (Owner or
// User Access Administrator; Role Based Access Control Administrator is not enough).
resource keySignerRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (!useKeyVaultCryptoUserRole) {
  name: guid(resourceGroup().id, 'cmg-token-auth-key-signer')
  properties: {
    roleName: 'cmg-token-auth key signer (${resourceGroup().name}, ${uniqueString(resourceGroup().id)})'
    description: 'Read a Key Vault key and its versions and sign with it; nothing else (no update, encrypt, decrypt, wrap, backup or management). Created by cmg-token-auth infra/app/rbac.bicep.'
    type: 'CustomRole'
    permissions: [
      {
        actions: []
        notActions: []
        dataActions: keySignerDataActions
        notDataActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

// Both key roles are scoped to the key, not the vault: the identity can use this key and no
// other secret, key or certificate that may later be put in the same vault.
resource keySigner 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!useKeyVaultCryptoUserRole) {
  name: guid(vault::signingKey.id, principalId, keySignerRole.name)
  scope: vault::signingKey
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    // The definition's subscription-level id, the form role assignments take; keySignerRole.id
    // would be the resource-group-level path of this deployment's scope.
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keySignerRole.name)
  }
}

resource keyCryptoUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (useKeyVaultCryptoUserRole) {
  name: guid(vault::signingKey.id, principalId, keyVaultCryptoUserRoleId)
  scope: vault::signingKey
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultCryptoUserRoleId)
  }
}

resource storageTableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, storageTableDataContributorRoleId)
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributorRoleId)
  }
}

resource storageBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, storageBlobDataOwnerRoleId)
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwnerRoleId)
  }
}

resource monitoringMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, principalId, monitoringMetricsPublisherRoleId)
  scope: applicationInsights
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisherRoleId)
  }
}

// Outputs

@description('Resource ids of the role assignments, for auditing.')
output roleAssignmentIds array = [
  useKeyVaultCryptoUserRole ? keyCryptoUser.id : keySigner.id
  storageTableDataContributor.id
  storageBlobDataOwner.id
  monitoringMetricsPublisher.id
]
