function Update-CmgDeviceToken {
    <#
    .SYNOPSIS
    Renews the device token when it is due.
    .DESCRIPTION
    Does nothing until the token's renewAfter (30 days after issue) has passed, unless -Force is
    given; then asks POST /api/renew with the current token and a fresh proof by the device key,
    sending the device's description again, and keeps the new token. This is what the
    scheduled task Install-CmgRenewalTask registers runs, at start-up and daily.

    When the service answers rate_limited (429), the time it names in Retry-After is kept in
    the state folder and the command fails with 'CmgTokenAuth.rate_limited'; until that time
    a run without -Force asks nothing. An expired token cannot be renewed: the service answers
    token_expired, and the device registers again (Register-CmgDevice). A revoked device gets
    device_revoked.
    .PARAMETER Force
    Renew now, even before renewAfter or a Retry-After time.
    .EXAMPLE
    Update-CmgDeviceToken -Verbose

    Renews if due and says what it did; outputs the status with Renewed true or false.
    .EXAMPLE
    Update-CmgDeviceToken -Force

    Renews now.
    .OUTPUTS
    CmgTokenAuth.DeviceStatus, with Renewed.
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    [OutputType('CmgTokenAuth.DeviceStatus')]
    param([switch]$Force)
    try {
        $registered = Get-CmgRegisteredDevice
        $tokenState = $registered.TokenState
        $identity = $registered.Identity
        $now = [System.DateTimeOffset]::UtcNow
        if (-not $Force) {
            $reason = $null
            if ($tokenState.nextAttemptAfter -and $now -lt (ConvertTo-CmgDateTimeOffset $tokenState.nextAttemptAfter)) {
                $reason = 'the service asked to wait until {0}' -f $tokenState.nextAttemptAfter
            } elseif ($now -lt (ConvertTo-CmgDateTimeOffset $tokenState.renewAfter)) {
                $reason = 'renewal is not due until {0}' -f $tokenState.renewAfter
            }
            if ($null -ne $reason) {
                Write-Verbose ('Not renewing: {0} (-Force renews now)' -f $reason)
                $status = Get-CmgStatusObject -Identity $identity -TokenState $tokenState
                return ($status | Add-Member -NotePropertyName 'Renewed' -NotePropertyValue $false -PassThru)
            }
        }
        $url = Resolve-CmgServiceUrl -ServiceUrl $tokenState.serviceUrl -AllowHttp:([bool]$tokenState.allowHttp)
        if (-not $PSCmdlet.ShouldProcess($url, ('Renew the device token of {0}' -f $tokenState.deviceId))) {
            return
        }
        try {
            $result = Invoke-CmgDeviceCall -ServiceUrl $url -Route 'renew' -Identity $identity -BearerToken $tokenState.token -WithDeviceDescription
        } catch {
            $record = $_
            if ($record.FullyQualifiedErrorId -eq 'CmgTokenAuth.rate_limited' -and $null -ne $record.TargetObject.RetryAfterSeconds) {
                $state = [ordered]@{}
                foreach ($property in $tokenState.PSObject.Properties) { $state[$property.Name] = $property.Value }
                $state.nextAttemptAfter = Format-CmgTime ([System.DateTimeOffset]::UtcNow.AddSeconds($record.TargetObject.RetryAfterSeconds))
                Save-CmgState -Name 'token' -State $state
                Write-Verbose ('The service is pacing token issues: no renewal attempt before {0}' -f $state.nextAttemptAfter)
            }
            throw
        }
        Save-CmgTokenAnswer -Answer $result.Answer -ServiceUrl $url -Registration $tokenState.registration -AllowHttp ([bool]$tokenState.allowHttp)
        Write-Verbose ('Renewed the device token of {0}; it expires {1}' -f $result.Answer.deviceId, $result.Answer.expiresAt)
        $status = Get-CmgStatusObject -Identity $identity -TokenState (Read-CmgState -Name 'token')
        $status | Add-Member -NotePropertyName 'Renewed' -NotePropertyValue $true -PassThru
    } catch {
        $PSCmdlet.ThrowTerminatingError((ConvertTo-CmgErrorRecord -ErrorRecord $_))
    }
}
