function Set-CmgStateDirectoryAcl {
    <#
    .SYNOPSIS
    Puts the SYSTEM-and-Administrators-only ACL (Get-CmgStateDirectorySddl) on the Windows
    state folder.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][string]$Path)
    Write-Verbose ('Restricting {0} to SYSTEM and Administrators' -f $Path)
    $security = New-CmgDirectorySecurity -Sddl (Get-CmgStateDirectorySddl)
    Set-Acl -LiteralPath $Path -AclObject $security
}
