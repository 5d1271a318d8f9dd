function Save-CmgTokenAnswer {
    <#
    .SYNOPSIS
    Keeps a token the service issued (register or renew) in the state folder.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]$Answer,
        [Parameter(Mandatory = $true)][string]$ServiceUrl,
        [Parameter(Mandatory = $true)][string]$Registration,
        [bool]$AllowHttp = $false
    )
    foreach ($field in @('deviceId', 'token', 'expiresAt', 'renewAfter')) {
        if (-not $Answer.$field) {
            throw (New-CmgErrorRecord -Code 'unexpected_response' -Detail ('the service issued a token without {0}' -f $field))
        }
    }
    Save-CmgState -Name 'token' -State ([ordered]@{
            serviceUrl       = $ServiceUrl
            allowHttp        = $AllowHttp
            status           = 'active'
            deviceId         = [string]$Answer.deviceId
            registration     = $Registration
            token            = [string]$Answer.token
            expiresAt        = Format-CmgTime (ConvertTo-CmgDateTimeOffset $Answer.expiresAt)
            renewAfter       = Format-CmgTime (ConvertTo-CmgDateTimeOffset $Answer.renewAfter)
            nextAttemptAfter = $null
        })
}
