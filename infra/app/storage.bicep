// Storage for both the Functions host (AzureWebJobsStorage, the deployment package) and the
// service's own tables. Keyless: shared-key access is off, so only Entra identities with a
// data role can read or write anything here.

// Parameters

@description('Required. Name of the storage account (3-24 lower-case letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Optional. Azure region of the storage account.')
param location string = resourceGroup().location

@description('Optional. Tags applied to the storage account.')
param tags object = {}

@description('Optional. Redundancy of the storage account. ZRS survives the loss of one availability zone.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
])
param skuName string = 'Standard_LRS'

@description('Required. Name of the blob container the Flex Consumption plan deploys packages from.')
@minLength(3)
@maxLength(63)
param deploymentContainerName string

// Resources

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    // No account keys, no SAS signed with them: every caller authenticates with Entra ID.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    dnsEndpointType: 'Standard'
    // The Flex Consumption app is not in a virtual network here, so it reaches storage over
    // its public endpoint; Entra auth, not the network, is the gate.
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }

  resource blobService 'blobServices' = {
    name: 'default'
    properties: {
      deleteRetentionPolicy: {
        enabled: true
        days: 7
      }
    }

    resource deploymentContainer 'containers' = {
      name: deploymentContainerName
      properties: {
        publicAccess: 'None'
      }
    }
  }

  // The service creates its tables on first use (TableService.table), so none are declared.
  resource tableService 'tableServices' = {
    name: 'default'
  }
}

// Outputs

@description('Name of the storage account.')
output name string = storage.name

@description('Resource id of the storage account, the scope of its data-role assignments.')
output id string = storage.id

@description('Blob endpoint, such as https://<account>.blob.core.windows.net/.')
output blobEndpoint string = storage.properties.primaryEndpoints.blob

@description('Table endpoint without a trailing slash; the app reads it as STORAGE_CONNECTION.')
output tableEndpoint string = 'https://${storage.name}.table.${environment().suffixes.storage}'

@description('Name of the deployment-package container.')
output deploymentContainerName string = storage::blobService::deploymentContainer.name
