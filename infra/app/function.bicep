// The Function App on the Flex Consumption plan: Linux, Node.js, scale to zero, deployed from
// a blob container that the platform reads with the user-assigned identity.

// Parameters

@description('Required. Name of the function app; also the host name <name>.azurewebsites.net.')
@minLength(2)
@maxLength(60)
param name string

@description('Required. Name of the Flex Consumption plan.')
@minLength(1)
@maxLength(60)
param planName string

@description('Optional. Azure region of the plan and the app; must offer Flex Consumption.')
param location string = resourceGroup().location

@description('Optional. Tags applied to the plan and the app.')
param tags object = {}

@description('Required. Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Required. Blob endpoint of the storage account, ending in a slash.')
param blobEndpoint string

@description('Required. Name of the container the platform deploys packages from.')
param deploymentContainerName string

@description('Optional. Node.js major version of the worker: 22 (Flex Consumption supports it until 2027-04-30) or 24.')
@allowed([
  '22'
  '24'
])
param nodeVersion string = '22'

@description('Optional. Memory of each instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Optional. Upper bound on instances, which caps cost under load.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Required. App settings, name to value. Must hold no secret: everything authenticates with the identity.')
param appSettings object

// Resources

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientAffinityEnabled: false
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'node'
        version: nodeVersion
      }
    }
  }

  // The whole set of app settings: this resource replaces whatever was there, so a setting
  // removed from main.bicep disappears from the app on the next deployment.
  resource settings 'config' = {
    name: 'appsettings'
    properties: appSettings
  }

  // No FTP and no basic-auth publishing: az deploys with the caller's Entra token.
  resource ftpPublishing 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: {
      allow: false
    }
  }

  resource scmPublishing 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: {
      allow: false
    }
  }
}

// Outputs

@description('Name of the function app.')
output name string = functionApp.name

@description('Resource id of the function app.')
output id string = functionApp.id

@description('Default host name, such as func-xyz.azurewebsites.net.')
output defaultHostName string = functionApp.properties.defaultHostName
