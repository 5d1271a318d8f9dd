// The service's one identity: the Functions host, Table Storage, Key Vault and Application
// Insights all see this user-assigned identity, so its roles can be granted before the app
// exists and survive the app being recreated.

// Parameters

@description('Required. Name of the user-assigned managed identity.')
@minLength(3)
@maxLength(128)
param name string

@description('Optional. Azure region of the identity.')
param location string = resourceGroup().location

@description('Optional. Tags applied to the identity.')
param tags object = {}

// Resources

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

// Outputs

@description('Resource id of the identity, for the function app and the deployment storage.')
output id string = identity.id

@description('Name of the identity.')
output name string = identity.name

@description('Client (application) id of the identity; the app reads it as AZURE_CLIENT_ID.')
output clientId string = identity.properties.clientId

@description('Object (principal) id of the identity, the subject of its role assignments.')
output principalId string = identity.properties.principalId
