function New-CmgDirectorySecurity {
    <#
    .SYNOPSIS
    A DirectorySecurity object from SDDL (Windows only: .NET has no ACLs elsewhere).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][string]$Sddl)
    $security = New-Object -TypeName System.Security.AccessControl.DirectorySecurity
    $security.SetSecurityDescriptorSddlForm($Sddl)
    , $security
}
