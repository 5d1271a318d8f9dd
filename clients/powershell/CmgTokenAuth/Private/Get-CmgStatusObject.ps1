function Get-CmgStatusObject {
    <#
    .SYNOPSIS
    What the device state says, as the object the public commands output: never the token.
    .DESCRIPTION
    Status is NotRegistered, Pending (an internal registration waiting for approval), Active,
    RenewalDue (renewAfter has passed) or Expired (the token can no longer be renewed: register
    again). Times are UTC DateTime values.
    #>
    [CmdletBinding()]
    param(
        $Identity = $null,
        $TokenState = $null,
        [System.DateTimeOffset]$Now = [System.DateTimeOffset]::UtcNow
    )
    $status = 'NotRegistered'
    $expiresAt = $null
    $renewAfter = $null
    $nextAttempt = $null
    $daysLeft = $null
    if ($null -ne $TokenState) {
        if ($TokenState.status -eq 'pending') {
            $status = 'Pending'
        } else {
            $expires = ConvertTo-CmgDateTimeOffset $TokenState.expiresAt
            $renew = ConvertTo-CmgDateTimeOffset $TokenState.renewAfter
            $expiresAt = $expires.UtcDateTime
            $renewAfter = $renew.UtcDateTime
            $daysLeft = [System.Math]::Round(($expires - $Now).TotalDays, 1)
            if ($Now -ge $expires) { $status = 'Expired' }
            elseif ($Now -ge $renew) { $status = 'RenewalDue' }
            else { $status = 'Active' }
        }
        if ($TokenState.nextAttemptAfter) {
            $nextAttempt = (ConvertTo-CmgDateTimeOffset $TokenState.nextAttemptAfter).UtcDateTime
        }
    }
    $result = [ordered]@{
        PSTypeName        = 'CmgTokenAuth.DeviceStatus'
        Status            = $status
        DeviceId          = $null
        Registration      = $null
        ServiceUrl        = $null
        ExpiresAt         = $expiresAt
        RenewAfter        = $renewAfter
        DaysLeft          = $daysLeft
        NextAttemptAfter  = $nextAttempt
        Thumbprint        = $null
        CertificateSha256 = $null
        KeyAlgorithm      = $null
        KeyStorage        = $null
        KeyProvider       = $null
        StatePath         = Get-CmgStateDirectory
    }
    if ($null -ne $TokenState) {
        $result.DeviceId = $TokenState.deviceId
        $result.Registration = $TokenState.registration
        $result.ServiceUrl = $TokenState.serviceUrl
    }
    if ($null -ne $Identity) {
        $result.Thumbprint = $Identity.Thumbprint
        $result.CertificateSha256 = $Identity.Sha256
        $result.KeyAlgorithm = $Identity.KeyAlgorithm
        $result.KeyStorage = $Identity.KeyStorage
        $result.KeyProvider = $Identity.Provider
    }
    [pscustomobject]$result
}
