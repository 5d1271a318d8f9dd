function Get-CmgRegisteredDevice {
    <#
    .SYNOPSIS
    The saved device token state and the device's identity, for the commands that act as a
    registered device; a terminating error naming what is missing otherwise.
    .DESCRIPTION
    not_registered when no active device token is saved (Register-CmgDevice first);
    identity_missing when a token is saved but its key is gone (Reset-CmgDevice, then register).
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param()
    $tokenState = Read-CmgState -Name 'token'
    if ($null -eq $tokenState -or $tokenState.status -ne 'active') {
        throw (New-CmgErrorRecord -Code 'not_registered' -Detail 'the device holds no device token; run Register-CmgDevice first' -Category ([System.Management.Automation.ErrorCategory]::ObjectNotFound))
    }
    $identity = Get-CmgIdentity
    if ($null -eq $identity) {
        throw (New-CmgErrorRecord -Code 'identity_missing' -Detail 'the device holds a token but no key; run Reset-CmgDevice and register again' -Category ([System.Management.Automation.ErrorCategory]::ObjectNotFound))
    }
    [pscustomobject]@{ TokenState = $tokenState; Identity = $identity }
}
