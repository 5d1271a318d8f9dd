function Reset-CmgDevice {
    <#
    .SYNOPSIS
    Forgets the device's registration and deletes its key, so that it registers as a new device.
    .DESCRIPTION
    Deletes the device certificate and its private key (from the certificate store, or the key
    files) and the state: token, expiry, thumbprint. The next Register-CmgDevice makes a new key,
    and the service, which derives the device id from the certificate, sees a new device. The
    service is not told: an administrator may revoke the old device id.

    It asks for confirmation (ConfirmImpact High); a script passes -Confirm:$false.
    .EXAMPLE
    Reset-CmgDevice -Confirm:$false; Register-CmgDevice -ServiceUrl $url -Internal

    Starts again with a new key and a new device id.
    .EXAMPLE
    Reset-CmgDevice -WhatIf

    Shows what would be deleted.
    #>
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param()
    try {
        $saved = Read-CmgState -Name 'identity'
        $tokenState = Read-CmgState -Name 'token'
        if ($null -eq $saved -and $null -eq $tokenState) {
            Write-Verbose 'Nothing to reset: the device has no key and no registration'
            return
        }
        $what = @()
        if ($null -ne $tokenState) { $what += ('the registration of {0}' -f $tokenState.deviceId) }
        if ($null -ne $saved) { $what += ('the device key and certificate {0} ({1})' -f $saved.thumbprint, $saved.keyStorage) }
        if (-not $PSCmdlet.ShouldProcess(($what -join ' and '), 'Delete')) {
            return
        }
        Remove-CmgState -Name 'token'
        if ($null -ne $saved) {
            Remove-CmgIdentity -Saved $saved
        }
    } catch {
        $PSCmdlet.ThrowTerminatingError((ConvertTo-CmgErrorRecord -ErrorRecord $_))
    }
}
