// Logs and telemetry. Application Insights accepts only Entra-authenticated ingestion
// (DisableLocalAuth), so the instrumentation key in the connection string cannot be used to
// send data; the app authenticates with its managed identity.

// Parameters

@description('Required. Name of the Log Analytics workspace.')
@minLength(4)
@maxLength(63)
param logAnalyticsName string

@description('Required. Name of the Application Insights component.')
@minLength(1)
@maxLength(260)
param applicationInsightsName string

@description('Optional. Azure region of the monitoring resources.')
param location string = resourceGroup().location

@description('Optional. Tags applied to the monitoring resources.')
param tags object = {}

@description('Optional. Days Log Analytics keeps data; 30 is included in the ingestion price.')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

@description('Optional. Daily ingestion cap in GB; -1 means no cap.')
param dailyQuotaGb int = -1

// Resources

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    workspaceCapping: {
      dailyQuotaGb: dailyQuotaGb
    }
    features: {
      disableLocalAuth: true
    }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
    IngestionMode: 'LogAnalytics'
  }
}

// Outputs

@description('Name of the Application Insights component.')
output applicationInsightsName string = applicationInsights.name

@description('Resource id of the Application Insights component.')
output applicationInsightsId string = applicationInsights.id

// Microsoft documents the connection string as an identifier, not a credential; with local
// auth disabled it cannot be used to ingest without an Entra token.
@description('Application Insights connection string (not a secret: ingestion requires Entra auth).')
output applicationInsightsConnectionString string = applicationInsights.properties.ConnectionString

@description('Resource id of the Log Analytics workspace.')
output logAnalyticsId string = logAnalytics.id
