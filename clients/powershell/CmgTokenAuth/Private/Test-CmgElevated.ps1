function Test-CmgElevated {
    <#
    .SYNOPSIS
    Whether the session runs elevated (or as SYSTEM) on Windows: the machine store and
    ProgramData are then used, else the current user's.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param()
    $identity = [System.Security.Principal.WindowsIdentity]::GetCurrent()
    $principal = New-Object -TypeName System.Security.Principal.WindowsPrincipal -ArgumentList $identity
    $principal.IsInRole([System.Security.Principal.WindowsBuiltInRole]::Administrator) -or $identity.IsSystem
}
