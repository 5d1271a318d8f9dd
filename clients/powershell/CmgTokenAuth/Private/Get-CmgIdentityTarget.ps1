function Get-CmgIdentityTarget {
    <#
    .SYNOPSIS
    Where a new device key would go, in words for -WhatIf and -Verbose.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    if (Test-CmgWindows) {
        if (Test-CmgElevated) { return 'Cert:\LocalMachine\My' }
        return 'Cert:\CurrentUser\My'
    }
    Join-Path (Get-CmgStateDirectory) 'device-key.pem'
}
