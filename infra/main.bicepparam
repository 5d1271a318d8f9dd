// Parameters of infra/main.bicep for an environment. infra/deploy.sh deploys with this file by
// default (-p <file> picks another: copy this one per environment and keep the `using` path
// pointing at main.bicep). Options given to deploy.sh override these values for one run only.
// Every parameter is described in main.bicep; what is not set here keeps main.bicep's default.
using 'main.bicep'

// deploy.sh sets CMG_ENVIRONMENT_NAME from --environment (default: the resource group name).
param environmentName = readEnvironmentVariable('CMG_ENVIRONMENT_NAME')

param nodeVersion = '22'
param keyType = 'RSA'
param rsaKeySize = 2048
param keyName = 'token-signing'
param enablePurgeProtection = true
param approvalMode = 'manual'
param internalNetworks = ''
param adminAppRole = 'CmgTokenAuth.Admin'
param tokenAudience = 'cmg-token-auth'
param maximumInstanceCount = 100

// The custom read-and-sign role on the signing key. Set true only if the deployer cannot create
// role definitions: Key Vault Crypto User also allows keys/update (re-enabling a key version an
// operator disabled after a leak), encrypt, decrypt, wrap, unwrap and backup.
param useKeyVaultCryptoUserRole = false
