function Get-CmgSha256 {
    <#
    .SYNOPSIS
    SHA-256 of bytes (SHA256.HashData is .NET 5+; Create() works on .NET Framework too).
    #>
    [CmdletBinding()]
    [OutputType([byte[]])]
    param([Parameter(Mandatory = $true)][AllowEmptyCollection()][byte[]]$Bytes)
    $sha = [System.Security.Cryptography.SHA256]::Create()
    try {
        , $sha.ComputeHash($Bytes)
    } finally {
        $sha.Dispose()
    }
}
