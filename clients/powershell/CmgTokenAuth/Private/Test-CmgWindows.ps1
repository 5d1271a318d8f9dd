function Test-CmgWindows {
    <#
    .SYNOPSIS
    Whether this is Windows: the certificate store, ACL and scheduled-task paths apply.
    .DESCRIPTION
    Not $IsWindows, which Windows PowerShell 5.1 does not define.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param()
    [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
}
