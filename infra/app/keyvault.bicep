// The signing key. It never leaves Key Vault: the service asks the vault to sign (a read-and-sign
// role on this one key, app/rbac.bicep) and publishes the public parts of every live version as
// JWKS.

// Parameters

@description('Required. Name of the key vault (3-24 letters, digits and dashes).')
@minLength(3)
@maxLength(24)
param name string

@description('Optional. Azure region of the key vault.')
param location string = resourceGroup().location

@description('Optional. Tags applied to the key vault.')
param tags object = {}

@description('Optional. Purge protection: a deleted vault or key cannot be purged before the retention period ends. Irreversible once on.')
param enablePurgeProtection bool = true

@description('Optional. Days a deleted vault or key stays recoverable.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 90

@description('Required. Name of the signing key.')
@minLength(1)
@maxLength(127)
param keyName string

@description('Optional. Key type of the signing key: RSA (tokens signed RS256) or EC on P-256 (ES256).')
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

@description('Optional. ISO 8601 duration after which Key Vault creates a new key version. Must leave at least the 90-day device-token lifetime before the old version expires.')
param keyRotationTimeAfterCreate string = 'P180D'

@description('Optional. ISO 8601 expiry that Key Vault stamps on each rotated key version.')
param keyExpiryTime string = 'P365D'

@description('Optional. ISO 8601 duration before expiry at which Key Vault emits a near-expiry event (Event Grid).')
param keyNotifyTimeBeforeExpiry string = 'P30D'

// Resources

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    // The tenant that issues the managed identity's tokens: the subscription's. Not a parameter,
    // so an admin tenant (TENANT_ID) elsewhere can never be wired in here by mistake; a vault
    // trusting another tenant refuses every token of the app's identity.
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    // Access is granted per key through Azure RBAC; there are no access policies.
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    // The API rejects an explicit false once purge protection has ever been on, so "off" is
    // expressed by leaving the property out.
    enablePurgeProtection: enablePurgeProtection ? true : null
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }

  // ARM creates the first version only if the key does not exist yet: redeploying never
  // replaces a key that has signed live tokens (and never updates its rotation policy; use
  // az keyvault key rotation-policy update for that).
  resource signingKey 'keys' = {
    name: keyName
    tags: tags
    properties: {
      kty: keyType
      keySize: keyType == 'RSA' ? rsaKeySize : null
      curveName: keyType == 'EC' ? 'P-256' : null
      keyOps: [
        'sign'
        'verify'
      ]
      attributes: {
        enabled: true
        exportable: false
      }
      rotationPolicy: {
        attributes: {
          expiryTime: keyExpiryTime
        }
        lifetimeActions: [
          {
            action: {
              type: 'rotate'
            }
            trigger: {
              timeAfterCreate: keyRotationTimeAfterCreate
            }
          }
          {
            action: {
              type: 'notify'
            }
            trigger: {
              timeBeforeExpiry: keyNotifyTimeBeforeExpiry
            }
          }
        ]
      }
    }
  }
}

// Outputs

@description('Name of the key vault.')
output name string = vault.name

@description('Vault URI, such as https://kv-xyz.vault.azure.net/; the app reads it as KEY_VAULT_URL.')
output uri string = vault.properties.vaultUri

@description('Name of the signing key; the app reads it as KEY_NAME.')
output keyName string = vault::signingKey.name

@description('Versionless key identifier, such as https://kv-xyz.vault.azure.net/keys/token-signing.')
output keyUri string = vault::signingKey.properties.keyUri

@description('Creation time of the key (seconds since 1970): earlier than this deployment when the key already existed and its options were left as they were.')
output keyCreated int = vault::signingKey.properties.attributes.created

@description('Key type of the key as it is in the vault.')
output keyType string = vault::signingKey.properties.kty
